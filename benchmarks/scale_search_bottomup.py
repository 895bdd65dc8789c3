"""Does OpenPose's test-time scale search help a bottom-up model? COCO AP with the maps of several input scales
averaged (the released OpenPose code's ``scale_search``; ``posekit eval/predict --scales``), flip test on.

    python benchmarks/scale_search_bottomup.py MODEL --gt DIR/annotations.json --images DIR/images
        [--scales "1;1,1.25;1,0.75,1.25,1.5;1.5"] [--limit 60] [--threads 2]

Each scale s letterboxes the image into an input s times the model's (rounded to a multiple of 16) and runs
the network with flip; :meth:`BottomUpEstimator.maps` resamples every scale's maps onto the reference grid
(scale 1), where they are averaged and grouped with the sidecar's grouping options. Maps are computed once
per image and scale, so each set of scales costs only its grouping. Use a set the model was not trained on,
e.g. the grouping tuning scenes (runs/synth_tune, seed 3).
"""
from __future__ import annotations

import argparse

from common import table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--gt", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--scales", default="1;1,1.25;1,0.75,1.25,1.5;1.5",
                    help="';'-separated sets of ','-separated scales")
    ap.add_argument("--limit", type=int, default=60, help="first N images")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from posekit.data.coco import load_coco, read_image
    from posekit.inference.bottomup import BottomUpEstimator
    from posekit.inference.topdown import _result
    from posekit.metrics.coco import evaluate_coco

    scale_sets = [tuple(float(s) for s in group.split(",")) for group in args.scales.split(";")]
    gt = load_coco(args.gt, images_dir=args.images).first_images(args.limit)
    estimator = BottomUpEstimator.load(args.model)
    all_scales = sorted({s for group in scale_sets for s in group})
    per_image = {}
    for image_id, info in gt.images.items():
        image = read_image(info.path)
        per_image[image_id] = {s: estimator.maps(image, True, (s,)) for s in all_scales}
    rows = []
    for group in scale_sets:
        results = []
        for image_id, by_scale in per_image.items():
            heatmaps = np.mean([by_scale[s][0] for s in group], 0)
            pafs = np.mean([by_scale[s][1] for s in group], 0)
            for kps, scores, score in zip(*estimator.people(heatmaps, pafs, by_scale[group[0]][2])):
                result = _result(image_id, kps, scores, [0, 0, 0, 0])
                result["score"] = float(score)
                results.append(result)
        m = evaluate_coco(gt, results)
        rows.append([" + ".join(f"{s:g}" for s in group), *(f"{m[key]:.3f}" for key in ("AP", "AP50", "AP75", "AR"))])
    print(table(["scales (x input)", "AP", "AP50", "AP75", "AR"], rows))
    print(f"\n{len(gt.images)} images of {args.gt}, flip test on, grouping {estimator.grouping}.")


if __name__ == "__main__":
    main()
