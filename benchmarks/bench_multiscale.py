"""Multi-scale test of a top-down LSP model on LSPET test (im08501-im09500, tight visible-joint boxes, flip test).

    python benchmarks/bench_multiscale.py MODEL --sets 1 1,0.88,1.12 1,0.88,0.94,1.12,1.24 [--threads 2] [--record]

Each set lists box-padding multipliers (the first the reference crop); the heatmaps of every scale are resampled onto
the reference grid and averaged (``posekit eval --scales``). PCK@0.2 (torso) is given on the whole split and on its
two halves (im08501-im09000, im09001-im09500), so a set picked on one half can be checked on the other; the time is
the wall clock of the whole pass (image reading included) and its ratio to the first set's, measured in the same run.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from common import SHARED_DATA, record, table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="zoo name or .safetensors path of a top-down lsp14 model")
    ap.add_argument("--sets", nargs="+", default=["1", "1,0.88,1.12"], help="comma-separated scale sets")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from posekit.cli import scales_arg
    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import evaluate_pck

    lsp = SHARED_DATA / "lspet"
    if not lsp.is_dir():
        sys.exit(f"LSPET not found at {lsp}")
    gt = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:9500"), images_dir=lsp / "images")
    halves = [dataclasses.replace(gt, people=[p for p in gt.people if test(p.image_id)])
              for test in (lambda i: i <= 9000, lambda i: i > 9000)]
    estimator = TopDownEstimator.load(args.model)
    dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
    rows, first = [], None
    for text in args.sets:
        scales = scales_arg(text)
        start = time.perf_counter()
        results = predict_dataset(estimator.model, dataset, flip=True, mean=estimator.mean, std=estimator.std,
                                  scales=scales)
        seconds = time.perf_counter() - start
        first = first or seconds
        pck = [evaluate_pck(part, results)["PCK@0.2"] for part in (gt, *halves)]
        rows.append([text, len(scales), *(f"{100 * v:.2f}" for v in pck), f"{seconds:.0f}", f"{seconds / first:.2f}"])
        print(rows[-1], flush=True)
    text = table(["scales", "crops", "PCK@0.2 % (all)", "8501-9000", "9001-9500", "s (1,000 people)", "time ratio"],
                 rows)
    print(text)
    if args.record:
        record(f"Multi-scale test of `{args.model}` on LSPET test (flip)", text,
               "python benchmarks/bench_multiscale.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
