"""Find LSPET people whose left and right look swapped to a trained model, print how many, and (with --out) write the
range's annotations with those people relabelled (posekit.data.relabel).

    python benchmarks/clean_lsp_sides.py MODEL [--range 1:8500] [--margin 4] [--out runs/lspet_train_sides.json]

The model predicts every person with flip test on the tight visible-joint boxes. The table gives, per margin, the people
whose side-swapped label matches the prediction at that many more joints (PCK@0.2 torso) than the label as given,
and the PCK@0.2 the model would score if each of them were counted swapped (an upper bound of what the swaps cost it).
Write a training split only: the test labels stay as they are.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import SHARED_DATA

MARGINS = (1, 2, 3, 4, 5, 6, 8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="zoo name or weights path of a top-down lsp14 model")
    ap.add_argument("--range", default="1:8500", help="LSPET image range A:B (default: the training split)")
    ap.add_argument("--margin", type=int, default=4, help="relabel a person when swapping wins by this many joints")
    ap.add_argument("--out", help="write the range's COCO annotations with the swaps applied here")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from posekit.data.coco import load_coco, save_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.relabel import side_swap_gain, swap_sides
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import pck, torso_size

    torch.set_num_threads(args.threads)
    lsp = SHARED_DATA / "lspet"
    data = convert_lsp(lsp / "joints.mat", lsp / "images", None, args.range)
    gt = load_coco(data, images_dir=lsp / "images")
    estimator = TopDownEstimator.load(args.model)
    results = predict_dataset(estimator.model, TopDownDataset(gt, estimator.codec, None, estimator.padding), flip=True,
                              mean=estimator.mean, std=estimator.std)
    by_id = {r["annotation_id"]: np.asarray(r["keypoints"]).reshape(-1, 3)[:, :2] for r in results}
    people = gt.trainable_people()
    labels = np.stack([p.keypoints for p in people])
    pred = np.stack([by_id[p.id] for p in people])
    gain = side_swap_gain(pred, labels, gt.skeleton)
    torso = torso_size(labels, gt.skeleton)
    visible = labels[..., 2] == 2
    _, as_labelled = pck(pred, labels[..., :2], visible, torso)
    total = (visible & np.isfinite(torso)[:, None]).sum()  # the joints PCK counts
    correct = as_labelled * total
    print(f"LSPET {args.range}: {len(people)} people, {int(np.isfinite(torso).sum())} with a torso; "
          f"{args.model} PCK@0.2 (flip) {as_labelled:.4f}")
    print("| margin (joints) | people relabelled | share of people with a torso | PCK@0.2 counting them swapped |")
    print("|---|---|---|---|")
    for m in MARGINS:
        chosen = gain >= m
        print(f"| {m} | {int(chosen.sum())} | {chosen.sum() / np.isfinite(torso).sum():.3f} "
              f"| {(correct + gain[chosen].sum()) / total:.4f} |")
    if args.out:
        ids = [p.id for p, g in zip(people, gain) if g >= args.margin]
        data = swap_sides(data, ids, gt.skeleton)
        data["info"]["description"] += (f"; left/right swapped for {len(ids)} people where {args.model} agreed with the "
                                        f"swap at >= {args.margin} more joints (benchmarks/clean_lsp_sides.py)")
        data["info"]["side_swapped_ids"] = ids
        save_coco(data, args.out)
        print(f"wrote {args.out}: {len(ids)} of {len(data['annotations'])} annotations relabelled")


if __name__ == "__main__":
    main()
