"""Bottom-up grouping speed (OpenPose PAF grouping) against the number of people, on CPU.

    python benchmarks/bench_grouping.py [--scenes 5] [--repeats 5] [--options MODEL_OR_JSON] [--record]

Ground-truth maps (PAFCodec.encode) of random non-overlapping coco17 people, 24-28
heatmap pixels tall, on 160x128 maps (a 1280x1024 image at stride 8); the people
generator is the one the grouping tests use. Times are medians over scenes and
repeats (calls timed in turn) of one ``group`` call (peaks, limb scores, matching, assembly), one thread. ``--options`` adds a
column with other grouping options: a JSON object, or a bottom-up model whose sidecar ``grouping`` to use
(e.g. ``openpose-synth``: its tuned thresholds and the completion of missing parts).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np

from common import ROOT, record, table

sys.path.insert(0, str(ROOT))  # for the tests' scene generator


def interleaved_medians(calls: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each call, timed in turn within each repeat (after one warm-up round), so that
    slow phases of a shared CPU (frequency ramps, other jobs) fall on every call alike rather than on the first."""
    for call in calls.values():
        call()
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=int, default=5, help="random scenes per row")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--options", help="grouping options for an extra column: JSON, or a model's sidecar grouping")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from posekit.codecs.paf import PAFCodec
    from posekit.inference.bottomup import find_peaks, group
    from posekit.skeletons import COCO17
    from tests.inference.test_bottomup import random_scene

    options = None
    if args.options:
        if args.options.lstrip().startswith("{"):
            options = json.loads(args.options)
        else:
            from posekit.io import load_model

            options = load_model(args.options)[1].get("grouping", {})
    codec = PAFCodec((1280, 1024), (160, 128), sigma=1.5, limb_width=1.0, skeleton="coco17")
    rng = np.random.default_rng(0)
    columns = ["group ms (hungarian)", "group ms (greedy)", "of which peaks ms", "encode ms",
               *(["group ms (--options)"] if options is not None else [])]
    rows = []
    for n in (1, 5, 10, 20):
        times, recovered = {name: [] for name in columns}, 0
        for _ in range(args.scenes):
            people = random_scene(COCO17, n, rng, map_size=codec.heatmap_size)
            people[..., :2] = codec.to_input(people[..., :2])
            maps = codec.encode(people)
            hm, pafs = maps["heatmaps"], maps["pafs"]
            calls = dict(zip(columns, [lambda: group(hm, pafs, COCO17),
                                       lambda: group(hm, pafs, COCO17, matching="greedy"),
                                       lambda: find_peaks(hm), lambda: codec.encode(people),
                                       lambda: group(hm, pafs, COCO17, **options)]))
            for name, seconds in interleaved_medians(calls, args.repeats).items():
                times[name].append(1e3 * seconds)
            recovered += len(group(hm, pafs, COCO17)) == n
        rows.append([n, *(statistics.median(times[name]) for name in columns), f"{recovered}/{args.scenes}"])
    text = table(["people", *columns, "scenes with all people found"], rows)
    if options is not None:
        text += f"\n\n--options: {json.dumps(options)}"
    print(text)
    if args.record:
        record("Bottom-up grouping, coco17, 160x128 maps, 1 thread", text,
               "python benchmarks/bench_grouping.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
