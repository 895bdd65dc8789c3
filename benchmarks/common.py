"""Helpers shared by the benchmarks: timing medians, the machine line, appending to docs/BENCHMARKS.md."""
from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from pathlib import Path

from posekit.runtime import keep_freed_memory

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
keep_freed_memory()  # as the posekit command does: benchmarks measure what users get


def model_labels(parser, args) -> list[str]:
    """The table names of ``args.models``: ``--labels`` split on commas, else the names themselves."""
    labels = args.labels.split(",") if args.labels else args.models
    if len(labels) != len(args.models):
        parser.error(f"--labels names {len(labels)} models, but {len(args.models)} were given")
    return labels


def median_rate(fn, items: int, repeats: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median items/s of ``fn()`` (which processes ``items`` items) over ``repeats`` runs."""
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        rates.append(items / (time.perf_counter() - t))
    return statistics.median(rates), rates


def median_time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def flops(model, x) -> float:
    """FLOPs of ``model(x)`` counted by torch.utils.flop_counter (1 multiply-add = 2 FLOPs)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def table(headers: list[str], rows: list[list]) -> str:
    cells = [headers] + [[f"{v:,.1f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def record(section: str, text: str, command: str) -> None:
    """Append a dated block to docs/BENCHMARKS.md."""
    path = ROOT / "docs" / "BENCHMARKS.md"
    date = datetime.date.today().isoformat()
    block = f"\n### {section} — {date}\n\nCommand: `{command}`  \nMachine: {machine()}\n\n{text}\n"
    with open(path, "a") as f:
        f.write(block)
