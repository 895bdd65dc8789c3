"""Upper-body accuracy on portrait framings of LSPET test people: how models fare on head-and-shoulders photos.

    python benchmarks/bench_portrait.py MODEL [MODEL ...] [--labels A,B,...] [--threads 2]

Every test person (im08501-im09500) with both shoulders and a head keypoint labelled is cut to the box the training
augmentation ``augment.portrait_prob`` draws (the head and shoulders widened 1.5-2.2x, from just above the head; a
fixed seed, so every model sees the same crops), without any other augmentation. Prints PCK@0.2 (torso, from the
full labels) with flip per upper-body joint, and the mean of the head top's, neck's and shoulders'.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import SHARED_DATA, model_labels

JOINTS = ("head_top", "neck", "right_shoulder", "left_shoulder", "right_elbow", "left_elbow")
FRAME = ("head_top", "neck", "right_shoulder", "left_shoulder")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+", help="zoo names or weights paths of top-down lsp14 models")
    ap.add_argument("--labels", help="comma-separated table names, one per model")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    labels = model_labels(ap, args)

    import torch

    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import Augment, TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import evaluate_pck
    from posekit.skeletons import LSP14

    torch.set_num_threads(args.threads)
    lsp = SHARED_DATA / "lspet"
    coco = convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:9500")
    index = {n: LSP14.index(n) for n in JOINTS}

    def framed(annotation: dict) -> bool:
        v = np.asarray(annotation["keypoints"]).reshape(-1, 3)[:, 2]
        return v[index["right_shoulder"]] > 0 and v[index["left_shoulder"]] > 0 and (
            v[index["head_top"]] > 0 or v[index["neck"]] > 0)

    coco["annotations"] = [a for a in coco["annotations"] if framed(a)]  # scored people = framed people
    gt = load_coco(coco, images_dir=lsp / "images")
    portrait = Augment(flip_prob=0.0, scale=0.0, rotation_prob=0.0, shift=0.0, half_body_prob=0.0,
                       portrait_prob=1.0, colour=0.0)
    print(f"{len(gt.trainable_people())} LSPET test people framed as portraits; PCK@0.2 (torso) with flip")
    print("| model | " + " | ".join(JOINTS) + " | head, neck, shoulders |")
    print("|---|" + "---|" * (len(JOINTS) + 1))
    for name, label in zip(args.models, labels):
        estimator = TopDownEstimator.load(name)
        dataset = TopDownDataset(gt, estimator.codec, portrait, estimator.padding, seed=0)
        results = predict_dataset(estimator.model, dataset, flip=True, mean=estimator.mean, std=estimator.std)
        metrics = evaluate_pck(gt, results)
        per_joint = metrics["per_joint"]
        frame = np.mean([per_joint[n] for n in FRAME])
        print(f"| {label} | " + " | ".join(f"{per_joint[n]:.3f}" for n in JOINTS) + f" | {frame:.3f} |")


if __name__ == "__main__":
    main()
