"""Accuracy on the LSPET test split (im08501-im09500) from the tight visible-joint boxes:
PCK@0.2 (torso and bbox), AUC and EPE, with and without flip test, plus a PCK-vs-alpha plot.

    python benchmarks/bench_lsp_accuracy.py MODEL [MODEL ...] [--labels A,B,...] [--cost]
        [--plot docs/images/pck_lsp.png] [--record]

MODEL is a zoo name or a .safetensors path; --labels names them in the table and plot. --cost adds
params, GFLOPs (one crop, 1 multiply-add = 2 FLOPs) and the median CPU latency per crop at batch 1
and 32 (one forward, no flip), on the threads torch has (--threads). Same numbers as
``posekit eval --model MODEL --gt lsp_test.json --images .../lspet/images [--flip]``.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from common import SHARED_DATA, flops, median_time, model_labels, record, table


def cost(model, input_size: tuple[int, int], repeats: int = 10) -> list[str]:
    """[params (M), GFLOPs per crop, latency b1 (ms), latency b32 (ms per crop)] of one forward pass."""
    import torch

    w, h = input_size
    x1, x32 = torch.randn(1, 3, h, w), torch.randn(32, 3, h, w)
    with torch.no_grad():
        gflops = flops(model, x1) / 1e9
        lat1 = median_time(lambda: model(x1), 4 * repeats)
        lat32 = median_time(lambda: model(x32), repeats)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return [f"{params:.2f}", f"{gflops:.2f}", f"{lat1 * 1e3:.1f}", f"{lat32 * 1e3 / 32:.1f}"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--labels", help="comma-separated names for the models, in order")
    ap.add_argument("--cost", action="store_true", help="add params, GFLOPs and CPU latency per crop")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--plot", help="write a PCK-vs-alpha PNG here")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    labels = model_labels(ap, args)
    import torch

    torch.set_num_threads(args.threads)
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
    for name, label in zip(args.models, labels):
        estimator = TopDownEstimator.load(name)
        costs = cost(estimator.model, estimator.codec.input_size) if args.cost else []
        dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
        for flip in (False, True):
            results = predict_dataset(estimator.model, dataset, flip=flip, mean=estimator.mean, std=estimator.std)
            m = evaluate_pck(gt, results)
            rows.append([label, "yes" if flip else "no", *costs, f"{m['PCK@0.2']:.4f}", f"{m['PCK@0.2_bbox']:.4f}",
                         f"{m['AUC']:.4f}", f"{m['EPE']:.2f}"])
            if flip:
                curves[label] = [evaluate_pck(gt, results, alpha=a)[f"PCK@{a:g}"] for a in alphas]
    cost_headers = ["params (M)", "GFLOPs", "latency b1 (ms)", "latency b32 (ms/crop)"] if args.cost else []
    text = table(["model", "flip", *cost_headers, "PCK@0.2 (torso)", "PCK@0.2 (bbox)", "AUC (torso, 0-0.5)",
                  "EPE (px)"], rows)
    print(text)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for name, curve in curves.items():
            ax.plot(alphas, curve, label=name)
        ax.set(xlabel="alpha (fraction of torso size)", ylabel="PCK (flip test)", title="LSPET test, 1,000 people",
               ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100, bbox_inches="tight")  # long labels must not run off the figure
        print(f"wrote {args.plot}")
    if args.record:
        record("LSPET test accuracy (im08501-im09500, tight visible-joint boxes)", text,
               "python benchmarks/bench_lsp_accuracy.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
