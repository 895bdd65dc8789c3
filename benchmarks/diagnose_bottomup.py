"""Which maps limit a bottom-up model: its confidence maps or its Part Affinity Fields.

    python benchmarks/diagnose_bottomup.py MODEL [MODEL ...] --gt DIR/annotations.json --images DIR/images
        [--no-flip] [--threads 2]

Groups every image four ways with the model's grouping options and scores each with COCO AP: the model's
own maps; the ground-truth confidence maps with the model's PAFs; the model's confidence maps with the
ground-truth PAFs; both from the ground truth (what grouping and the map resolution allow). The
ground-truth maps are the codec's targets for the letterboxed image, exactly what training regresses.
Use a set the model was not tuned or trained on.

A second table counts the model's part candidates (the confidence-map peaks grouping starts from): the share of
labelled joints with a candidate of their type within ``--radius`` heatmap cells (one candidate per joint,
assigned by distance), for visible (v=2) and occluded (v=1) joints, and the share of candidates that land on one.
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
    ap.add_argument("--radius", type=float, default=1.5, help="candidate-to-joint distance counted as found, cells")
    args = ap.parse_args()
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from posekit.data.bottomup import BottomUpDataset
    from posekit.data.coco import load_coco, read_image
    from posekit.data.transforms import apply_affine
    from posekit.inference.bottomup import BottomUpEstimator, find_peaks
    from posekit.inference.topdown import _result
    from posekit.metrics.coco import evaluate_coco

    gt = load_coco(args.gt, images_dir=args.images)
    people_by_image = gt.people_by_image()
    rows, candidate_rows = [], []
    for name in args.models:
        estimator = BottomUpEstimator.load(name)
        truth = BottomUpDataset(gt, estimator.codec)  # no augmentation: the estimator's letterbox
        results = {c: [] for c in COMBINATIONS}
        with_candidate = {1: [0, 0], 2: [0, 0]}  # visibility -> [joints with a candidate, joints]
        candidates_on_joints = candidates = 0
        for index, image_id in enumerate(truth.image_ids):
            heatmaps, pafs, affine = estimator.maps(read_image(gt.images[image_id].path), not args.no_flip)
            item = truth[index]
            people = [p for p in people_by_image.get(image_id, []) if p.num_keypoints and not p.iscrowd]
            if people:
                keypoints = np.stack([p.keypoints for p in people])
                joints = estimator.codec.to_heatmap(apply_affine(keypoints[..., :2], affine))
                peaks = find_peaks(heatmaps, estimator.grouping.get("peak_threshold", 0.1))
                for j, peak in enumerate(peaks):
                    labelled = keypoints[:, j, 2] > 0
                    hit = np.zeros(len(people), bool)
                    hit[labelled] = joints_found(joints[labelled, j], peak[:, :2], args.radius)
                    candidates += len(peak)
                    candidates_on_joints += int(hit.sum())
                    for v, tally in with_candidate.items():
                        tally[0] += int(hit[keypoints[:, j, 2] == v].sum())
                        tally[1] += int((keypoints[:, j, 2] == v).sum())
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
        shares = [f"{hits / max(total, 1):.3f} of {total}" for hits, total in (with_candidate[2], with_candidate[1])]
        candidate_rows.append([name, *shares, f"{candidates_on_joints / max(candidates, 1):.3f} of {candidates}"])
    print(table(["model", "grouped from", "AP", "AP50", "AP75", "AR"], rows))
    print()
    print(table(["model", "visible joints with a candidate", "occluded joints with a candidate",
                 "candidates on a joint"], candidate_rows))
    print(f"\n{len(gt.images)} images of {args.gt}, flip test {'off' if args.no_flip else 'on'}; "
          f"a candidate within {args.radius} cells finds a joint.")


def joints_found(joints, peaks, radius: float):
    """joints (P,2), peaks (n,2) in heatmap cells -> (P,) bool: the joint is assigned a peak within ``radius``
    (one peak per joint, minimum total distance)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    hit = np.zeros(len(joints), bool)
    if len(joints) and len(peaks):
        distance = np.linalg.norm(joints[:, None, :] - peaks[None, :, :], axis=-1)
        rows, cols = linear_sum_assignment(distance)
        hit[rows[distance[rows, cols] <= radius]] = True
    return hit


if __name__ == "__main__":
    main()
