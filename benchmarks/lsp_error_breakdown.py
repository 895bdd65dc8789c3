"""Where a top-down model's LSPET test errors are: per joint, by kind of miss, by person size and occlusion.

    python benchmarks/lsp_error_breakdown.py MODEL [--range 8501:9500] [--no-flip] [--threads 2]

Scores what PCK@0.2 (torso) scores (visible joints of people with a torso, tight visible-joint boxes) and
sorts each miss (error > 0.2 torso) into one kind:
  swap  - within 0.2 torso of the same joint of the other side (the left/right confusion LSPET's labels
          also carry, docs/BENCHMARKS.md "Left/right label noise");
  near  - 0.2-0.5 torso from the label (a localisation miss);
  gross - farther (a wrong limb, a wrong person, a guess under occlusion).
Then PCK by the person's torso length (terciles, crop pixels do not matter: the input size is fixed) and by how
many of the 14 joints are visible.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import SHARED_DATA


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="zoo name or weights path of a top-down lsp14 model")
    ap.add_argument("--range", default="8501:9500", help="LSPET image range A:B (default: the test split)")
    ap.add_argument("--no-flip", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import torso_size

    torch.set_num_threads(args.threads)
    lsp = SHARED_DATA / "lspet"
    gt = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, args.range), images_dir=lsp / "images")
    estimator = TopDownEstimator.load(args.model)
    results = predict_dataset(estimator.model, TopDownDataset(gt, estimator.codec, None, estimator.padding),
                              flip=not args.no_flip, mean=estimator.mean, std=estimator.std)
    by_id = {r["annotation_id"]: np.asarray(r["keypoints"]).reshape(-1, 3)[:, :2] for r in results}
    people = gt.trainable_people()
    labels = np.stack([p.keypoints for p in people])  # (N, K, 3)
    pred = np.stack([by_id[p.id] for p in people])
    skeleton = gt.skeleton
    torso = torso_size(labels, skeleton)
    has_torso = np.isfinite(torso) & (torso > 0)
    labels, pred, torso = labels[has_torso], pred[has_torso], torso[has_torso]
    counted = labels[..., 2] == 2
    error = np.linalg.norm(pred - labels[..., :2], axis=-1) / torso[:, None]
    mirror = labels[:, skeleton.flip_index]
    mirror_error = np.linalg.norm(pred - mirror[..., :2], axis=-1) / torso[:, None]
    has_mirror = (mirror[..., 2] > 0) & (np.asarray(skeleton.flip_index) != np.arange(skeleton.num_keypoints))
    correct = error <= 0.2
    swap = ~correct & has_mirror & (mirror_error <= 0.2)
    near = ~correct & ~swap & (error <= 0.5)
    gross = ~correct & ~swap & ~near

    def share(kind: np.ndarray, where: np.ndarray) -> str:
        n = (where & counted).sum()
        return f"{(kind & where & counted).sum() / n:.3f}" if n else "-"

    everyone = np.ones_like(counted)
    flip = "without" if args.no_flip else "with"
    print(f"{args.model}, LSPET {args.range}, {flip} flip: {len(labels)} people with a torso, "
          f"{int(counted.sum())} visible joints")
    print("\n| joint | joints | PCK@0.2 | swap | near (0.2-0.5) | gross (> 0.5) |\n|---|---|---|---|---|---|")
    for k, name in enumerate(skeleton.keypoints):
        col = np.zeros_like(counted)
        col[:, k] = True
        print(f"| {name} | {int((col & counted).sum())} | {share(correct, col)} | {share(swap, col)} | "
              f"{share(near, col)} | {share(gross, col)} |")
    print(f"| **all** | {int(counted.sum())} | **{share(correct, everyone)}** | {share(swap, everyone)} | "
          f"{share(near, everyone)} | {share(gross, everyone)} |")

    print("\n| people | count | PCK@0.2 | gross (> 0.5) |\n|---|---|---|---|")
    edges = np.quantile(torso, [1 / 3, 2 / 3])
    tercile = np.digitize(torso, edges)
    for t, label in enumerate((f"torso < {edges[0]:.0f} px", f"torso {edges[0]:.0f}-{edges[1]:.0f} px",
                               f"torso > {edges[1]:.0f} px")):
        rows = np.broadcast_to((tercile == t)[:, None], counted.shape)
        print(f"| {label} | {int((tercile == t).sum())} | {share(correct, rows)} | {share(gross, rows)} |")
    visible = counted.sum(1)
    for lo, hi in ((0, 9), (10, 12), (13, 14)):
        group = (visible >= lo) & (visible <= hi)
        rows = np.broadcast_to(group[:, None], counted.shape)
        print(f"| {lo}-{hi} joints visible | {int(group.sum())} | {share(correct, rows)} | {share(gross, rows)} |")


if __name__ == "__main__":
    main()
