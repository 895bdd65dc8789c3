"""Accuracy on the LSPET test split (im08501-im09500) from the tight visible-joint boxes:
PCK@0.2 (torso and bbox), AUC and EPE, with and without flip test, plus a PCK-vs-alpha plot.

    python benchmarks/bench_lsp_accuracy.py MODEL [MODEL ...] [--plot docs/images/pck_lsp.png] [--record]

MODEL is a zoo name or a .safetensors path. Same numbers as
``posekit eval --model MODEL --gt lsp_test.json --images .../lspet/images [--flip]``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from common import SHARED_DATA, record, table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--plot", help="write a PCK-vs-alpha PNG here")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import evaluate_pck

    lsp = SHARED_DATA / "lspet"
    if not lsp.is_dir():
        sys.exit(f"LSPET not found at {lsp}")
    gt = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:9500"), images_dir=lsp / "images")
    alphas = np.linspace(0, 0.5, 26)
    rows, curves = [], {}
    for name in args.models:
        estimator = TopDownEstimator.load(name)
        dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
        for flip in (False, True):
            results = predict_dataset(estimator.model, dataset, flip=flip, mean=estimator.mean, std=estimator.std)
            m = evaluate_pck(gt, results)
            rows.append([name, "yes" if flip else "no", f"{m['PCK@0.2']:.4f}", f"{m['PCK@0.2_bbox']:.4f}",
                         f"{m['AUC']:.4f}", f"{m['EPE']:.2f}"])
            if flip:
                curves[name] = [evaluate_pck(gt, results, alpha=a)[f"PCK@{a:g}"] for a in alphas]
    text = table(["model", "flip", "PCK@0.2 (torso)", "PCK@0.2 (bbox)", "AUC (torso, 0-0.5)", "EPE (px)"], rows)
    print(text)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for name, curve in curves.items():
            ax.plot(alphas, curve, label=name)
        ax.set(xlabel="alpha (fraction of torso size)", ylabel="PCK (flip test)", title="LSPET test, 1,000 people",
               ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    if args.record:
        record("LSPET test accuracy (im08501-im09500, tight visible-joint boxes)", text,
               "python benchmarks/bench_lsp_accuracy.py " + " ".join(args.models))


if __name__ == "__main__":
    main()
