"""Bottom-up grouping speed (OpenPose PAF grouping) against the number of people, on CPU.

    python benchmarks/bench_grouping.py [--scenes 5] [--repeats 5] [--options MODEL_OR_JSON] [--record]

Ground-truth maps (PAFCodec.encode) of random non-overlapping coco17 people, 24-28
heatmap pixels tall, on 160x128 maps (a 1280x1024 image at stride 8); the people
generator is the one the grouping tests use. Times are medians over scenes and
repeats of one ``group`` call (peaks, limb scores, matching, assembly), one thread. ``--options`` adds a
column with other grouping options: a JSON object, or a bottom-up model whose sidecar ``grouping`` to use
(e.g. ``openpose-synth``: its tuned thresholds and the completion of missing parts).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np

from common import ROOT, median_time, record, table

sys.path.insert(0, str(ROOT))  # for the tests' scene generator


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
    rows = []
    for n in (1, 5, 10, 20):
        hungarian, greedy, peaks, encode, with_options, recovered = [], [], [], [], [], 0
        for _ in range(args.scenes):
            people = random_scene(COCO17, n, rng, map_size=codec.heatmap_size)
            people[..., :2] = codec.to_input(people[..., :2])
            encode.append(1e3 * median_time(lambda: codec.encode(people), args.repeats))
            maps = codec.encode(people)
            hm, pafs = maps["heatmaps"], maps["pafs"]
            peaks.append(1e3 * median_time(lambda: find_peaks(hm), args.repeats))
            hungarian.append(1e3 * median_time(lambda: group(hm, pafs, COCO17), args.repeats))
            greedy.append(1e3 * median_time(lambda: group(hm, pafs, COCO17, matching="greedy"), args.repeats))
            if options is not None:
                with_options.append(1e3 * median_time(lambda: group(hm, pafs, COCO17, **options), args.repeats))
            recovered += len(group(hm, pafs, COCO17)) == n
        rows.append([n, statistics.median(hungarian), statistics.median(greedy), statistics.median(peaks),
                     statistics.median(encode), *([statistics.median(with_options)] if options is not None else []),
                     f"{recovered}/{args.scenes}"])
    text = table(["people", "group ms (hungarian)", "group ms (greedy)", "of which peaks ms", "encode ms",
                  *(["group ms (--options)"] if options is not None else []), "scenes with all people found"], rows)
    if options is not None:
        text += f"\n\n--options: {json.dumps(options)}"
    print(text)
    if args.record:
        record("Bottom-up grouping, coco17, 160x128 maps, 1 thread", text,
               "python benchmarks/bench_grouping.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
