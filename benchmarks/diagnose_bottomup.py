"""Which maps limit a bottom-up model: its confidence maps or its Part Affinity Fields.

    python benchmarks/diagnose_bottomup.py MODEL [MODEL ...] --gt DIR/annotations.json --images DIR/images
        [--no-flip] [--threads 2]

Groups every image four ways with the model's grouping options and scores each with COCO AP: the model's
own maps; the ground-truth confidence maps with the model's PAFs; the model's confidence maps with the
ground-truth PAFs; both from the ground truth (what grouping and the map resolution allow). The
ground-truth maps are the codec's targets for the letterboxed image, exactly what training regresses.
Use a set the model was not tuned or trained on.
"""
from __future__ import annotations

import argparse

from common import table

COMBINATIONS = ("model maps + model PAFs", "true maps + model PAFs", "model maps + true PAFs", "true maps + true PAFs")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--gt", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from posekit.data.bottomup import BottomUpDataset
    from posekit.data.coco import load_coco, read_image
    from posekit.inference.bottomup import BottomUpEstimator
    from posekit.inference.topdown import _result
    from posekit.metrics.coco import evaluate_coco

    gt = load_coco(args.gt, images_dir=args.images)
    rows = []
    for name in args.models:
        estimator = BottomUpEstimator.load(name)
        truth = BottomUpDataset(gt, estimator.codec)  # no augmentation: the estimator's letterbox
        results = {c: [] for c in COMBINATIONS}
        for index, image_id in enumerate(truth.image_ids):
            heatmaps, pafs, affine = estimator.maps(read_image(gt.images[image_id].path), not args.no_flip)
            item = truth[index]
            true_heatmaps, true_pafs = np.asarray(item["heatmaps"]), np.asarray(item["pafs"])
            maps = zip(COMBINATIONS, ((heatmaps, pafs), (true_heatmaps, pafs), (heatmaps, true_pafs),
                                      (true_heatmaps, true_pafs)))
            for combination, (h, p) in maps:
                for k, s, score in zip(*estimator.people(h, p, affine)):
                    result = _result(image_id, k, s, [0, 0, 0, 0])
                    result["score"] = float(score)
                    results[combination].append(result)
        for combination, found in results.items():
            m = evaluate_coco(gt, found)
            rows.append([name, combination, *(f"{m[k]:.3f}" for k in ("AP", "AP50", "AP75", "AR"))])
    print(table(["model", "grouped from", "AP", "AP50", "AP75", "AR"], rows))
    print(f"\n{len(gt.images)} images of {args.gt}, flip test {'off' if args.no_flip else 'on'}.")


if __name__ == "__main__":
    main()
