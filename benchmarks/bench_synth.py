"""Speed of the synthetic human engine: scenes per second on one core.

Modes: ``generate`` renders and writes images, labels and annotations.json (the
``posekit synth`` path); ``render`` only renders (what a DataLoader worker does).
Each mode runs ``--repeats`` times over ``--n`` scenes; the table shows the median.
Loading the mocap library (once per process) is not timed.

    python benchmarks/bench_synth.py --n 200 --repeats 3 [--append docs/BENCHMARKS.md]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import torch  # noqa: E402

from posekit.synth import SynthConfig, generate, render_scene  # noqa: E402
from posekit.synth.scene import pose_library, resolve_mocap_dir  # noqa: E402


def python_reference_ms() -> float:
    """Milliseconds for one million Python integer additions: a yardstick of how fast (or how
    shared) this core is, to read the table against (about 40-60 ms on an idle recent core)."""
    start = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i
    return (time.perf_counter() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="scenes per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--people", default="1:3")
    parser.add_argument("--format", default="jpg", choices=["jpg", "png"])
    parser.add_argument("--append", default=None, help="append a dated row to this markdown file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    w, h = (int(v) for v in args.size.split("x"))
    lo, hi = (int(v) for v in args.people.split(":"))
    config = SynthConfig(width=w, height=h, people=(lo, hi))
    pose_library(config)
    poses = "mocap" if resolve_mocap_dir(config.mocap_dir) else "random"

    def run_generate(seed: int, out: str) -> None:
        generate(args.n, out, seed=seed, config=config, image_format=args.format)

    def run_render(seed: int, out: str) -> None:
        for i in range(args.n):
            render_scene(seed, i, config)

    rows = []
    for mode, fn in (("generate", run_generate), ("render", run_render)):
        times = []
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory() as out:  # deleting the files is not timed
                start = time.perf_counter()
                fn(r, out)
                times.append(time.perf_counter() - start)
        rows.append((mode, statistics.median(times), args.n / statistics.median(times)))

    reference = python_reference_ms()
    setting = f"{w}x{h}, {lo}-{hi} people, {poses} poses, {args.format}, 1 thread"
    print(f"posekit.synth speed: {setting}, median of {args.repeats} x {args.n} scenes, "
          f"{platform.machine()}, reference loop {reference:.0f} ms")
    print("| mode | seconds / run | scenes/s |")
    print("|---|---:|---:|")
    for mode, seconds, rate in rows:
        print(f"| {mode} | {seconds:.2f} | {rate:.1f} |")
    if args.append:
        today = datetime.date.today().isoformat()
        with open(args.append, "a") as f:
            f.write(f"| {today} | benchmarks/bench_synth.py | {setting} | generate {rows[0][2]:.1f} scenes/s, "
                    f"render {rows[1][2]:.1f} scenes/s | reference loop {reference:.0f} ms |\n")


if __name__ == "__main__":
    main()
