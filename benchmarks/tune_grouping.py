"""Tune a bottom-up model's grouping options (thresholds of :func:`posekit.inference.bottomup.group_with_scores`)
for COCO AP on a tuning set, by coordinate search; never tune on the set you report.

    python benchmarks/tune_grouping.py MODEL --gt DIR/annotations.json --images DIR/images [--no-flip] [--sweeps 2]
        [--scales 1,0.75,1.25,1.5]

The tuning set used for the bundled models (training distribution, neither training nor test scenes):
``posekit synth --n 200 --out runs/synth_tune --seed 3 --people 2:6 --size 256x256 --keypoints coco17``.
Maps are computed once per image; each trial regroups them. Prints the best options as the JSON to put
under ``grouping`` in the model's sidecar.
"""
from __future__ import annotations

import argparse
import json

from posekit.cli import scales_arg

GRID = {
    "peak_threshold": (0.03, 0.05, 0.1, 0.2),
    "paf_threshold": (0.01, 0.02, 0.05, 0.1),
    "min_fraction": (0.5, 0.65, 0.8),
    "min_parts": (2, 3, 4, 6),
    "min_score": (0.0, 0.1, 0.2, 0.4),
    "num_samples": (10, 20),
    "completion_radius": (0.0, 0.25, 0.35, 0.5),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--gt", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--sweeps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scales", type=scales_arg, default=(1.0,), metavar="S1,S2,...",
                    help="multi-scale test: input-size multipliers whose maps are averaged (default 1)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from posekit.data.coco import load_coco, read_image
    from posekit.inference.bottomup import BottomUpEstimator
    from posekit.inference.topdown import _result
    from posekit.metrics.coco import evaluate_coco

    gt = load_coco(args.gt, images_dir=args.images)
    estimator = BottomUpEstimator.load(args.model)
    maps = {i: estimator.maps(read_image(info.path), not args.no_flip, args.scales) for i, info in gt.images.items()}

    def coco_ap(options: dict) -> float:
        results = []
        for image_id, image_maps in maps.items():
            for k, s, score in zip(*estimator.people(*image_maps, **options)):
                result = _result(image_id, k, s, [0, 0, 0, 0])
                result["score"] = float(score)
                results.append(result)
        return evaluate_coco(gt, results)["AP"]

    options = {"peak_threshold": 0.1, "paf_threshold": 0.05, "min_fraction": 0.8, "min_parts": 3, "min_score": 0.2,
               "num_samples": 10, "completion_radius": 0.0, **estimator.grouping}
    best = coco_ap(options)
    print(f"start: AP {best:.4f} {options}")
    for _ in range(args.sweeps):
        for key, values in GRID.items():
            for value in values:
                if value == options[key]:
                    continue
                trial = {**options, key: value}
                score = coco_ap(trial)
                if score > best + 1e-4:
                    best, options = score, trial
                    print(f"AP {best:.4f} {options}", flush=True)
    print(f"best AP {best:.4f} on {len(maps)} images; sidecar grouping:")
    print(json.dumps(options))


if __name__ == "__main__":
    main()
