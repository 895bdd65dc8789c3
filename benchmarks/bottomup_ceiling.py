"""What OpenPose grouping reaches from perfect maps, for several map resolutions: the ceiling a codec allows.

    python benchmarks/bottomup_ceiling.py --gt DIR/annotations.json --images DIR/images
        [--model openpose-synth] [--maps 64:1.5:1.0 128:3.0:2.0 ...]

Each ``--maps`` entry is ``SIDE:SIGMA:LIMB_WIDTH`` (square heatmap side in cells, confidence-map sigma and
PAF half-width in cells). For each, the codec's own targets of every letterboxed image (exactly what training
regresses) are grouped with the model's grouping options and input size, and scored with COCO AP. Also
printed: the share of people whose best-matching found person reaches OKS 0.5 / 0.75 / 0.95, by person area.
Since the targets are perfect, what is lost is lost to the resolution (peaks of nearby joints merging,
fields of crossing limbs averaging) and to grouping.
"""
from __future__ import annotations

import argparse

from common import table

AREA_BINS = ((0, 1000), (1000, 4000), (4000, float("inf")))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gt", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--model", default="openpose-synth", help="the model whose input size and grouping options to use")
    ap.add_argument("--maps", nargs="+", default=["64:1.5:1.0", "128:3.0:2.0"], metavar="SIDE:SIGMA:LIMB_WIDTH")
    args = ap.parse_args()
    import dataclasses

    import numpy as np

    from posekit.data.bottomup import BottomUpDataset
    from posekit.data.coco import load_coco
    from posekit.data.transforms import apply_affine, invert_affine
    from posekit.inference.bottomup import BottomUpEstimator, group_with_scores
    from posekit.inference.topdown import _result
    from posekit.metrics.coco import evaluate_coco, oks

    gt = load_coco(args.gt, images_dir=args.images)
    estimator = BottomUpEstimator.load(args.model)
    by_image = gt.people_by_image()
    sigmas = np.asarray(gt.skeleton.sigmas)
    rows, size_rows = [], []
    for spec in args.maps:
        try:
            side, sigma, limb_width = spec.split(":")
            codec = dataclasses.replace(estimator.codec, heatmap_size=(int(side), int(side)), sigma=float(sigma),
                                        limb_width=float(limb_width))
        except ValueError as e:
            ap.error(f"--maps {spec!r}: expected SIDE:SIGMA:LIMB_WIDTH, e.g. 64:1.5:1.0 ({e})")
        truth = BottomUpDataset(gt, codec)
        results, best, areas = [], [], []
        for index, image_id in enumerate(truth.image_ids):
            item = truth[index]
            people, scores = group_with_scores(np.asarray(item["heatmaps"]), np.asarray(item["pafs"]),
                                               gt.skeleton, codec.limbs, **estimator.grouping)
            found = people[..., 2] > 0
            kps = apply_affine(codec.to_input(people[..., :2]), invert_affine(item["affine"].numpy()))
            kps = kps * found[..., None]
            for k, s, score in zip(kps, people[..., 2], scores):
                result = _result(image_id, k, s, [0, 0, 0, 0])
                result["score"] = float(score)
                results.append(result)
            for person in by_image.get(image_id, []):
                if person.num_keypoints and not person.iscrowd:
                    best.append(max([oks(k, person.keypoints, person.area, sigmas) for k in kps], default=0.0))
                    areas.append(person.area)
        m = evaluate_coco(gt, results)
        stride = codec.input_size[0] / codec.heatmap_size[0]
        rows.append([f"{side}x{side} (stride {stride:g}), sigma {sigma}, limb width {limb_width}",
                     *(f"{m[k]:.3f}" for k in ("AP", "AP50", "AP75", "AR"))])
        best, areas = np.asarray(best), np.asarray(areas)
        for lo, hi in AREA_BINS:
            sel = (areas >= lo) & (areas < hi)
            size_rows.append([f"{side}x{side}", f"{lo:g}-{hi:g}", int(sel.sum()),
                              *(f"{(best[sel] >= t).mean():.3f}" if sel.any() else "-" for t in (0.5, 0.75, 0.95))])
    print(table(["maps from the ground truth", "AP", "AP50", "AP75", "AR"], rows))
    print()
    print(table(["maps", "person area (px^2)", "people", "best OKS >= 0.5", ">= 0.75", ">= 0.95"], size_rows))
    print(f"\n{len(gt.images)} images of {args.gt}; input {estimator.codec.input_size}, grouping "
          f"{estimator.grouping} from {args.model}.")


if __name__ == "__main__":
    main()
