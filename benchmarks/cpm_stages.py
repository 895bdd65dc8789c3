"""A CPM's accuracy stage by stage on the LSPET test split, and of stages grown by copying its last one.

    python benchmarks/cpm_stages.py MODEL [--grow 3] [--threads 2]

MODEL is a zoo name or a .safetensors path of a top-down lsp14 CPM. Prints PCK@0.2 (torso, flip test) of the
belief maps of every stage t = 1..T (the network cut after stage t), then of T+1..T+grow stages where each new
stage is a copy of stage T (what ``CPM.grow_state_dict`` starts a deeper network from): how much each stage
adds, and how close a grown network starts to the trained one.
"""
from __future__ import annotations

import argparse
import copy
import sys

from common import SHARED_DATA, table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="zoo name or weights path of a top-down lsp14 CPM")
    ap.add_argument("--grow", type=int, default=3, help="also score up to this many copies of the last stage")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from torch import nn

    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import evaluate_pck
    from posekit.models.cpm import CPM

    torch.set_num_threads(args.threads)
    lsp = SHARED_DATA / "lspet"
    if not lsp.is_dir():
        sys.exit(f"LSPET not found at {lsp}")
    estimator = TopDownEstimator.load(args.model)
    model = estimator.model
    if not isinstance(model, CPM):
        sys.exit(f"{args.model} is a {type(model).__name__}, not a CPM")
    gt = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:9500"), images_dir=lsp / "images")
    dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
    trained = list(model.stages)
    if not trained and args.grow:
        sys.exit(f"{args.model} is a single-stage CPM: it has no refinement stage to copy (use --grow 0)")
    variants = [(f"stage {t}", trained[:t - 1]) for t in range(1, len(trained) + 2)]
    variants += [(f"stage {len(trained) + 1 + n} (copies of stage {len(trained) + 1})",
                  trained + [copy.deepcopy(trained[-1]) for _ in range(n)]) for n in range(1, args.grow + 1)]
    rows = []
    for label, stages in variants:
        model.stages = nn.ModuleList(stages)
        results = predict_dataset(model, dataset, flip=True, mean=estimator.mean, std=estimator.std)
        rows.append([label, f"{evaluate_pck(gt, results)['PCK@0.2']:.4f}"])
        print(f"{label}: {rows[-1][1]}", file=sys.stderr, flush=True)
    print(table(["belief maps of", "PCK@0.2 (torso, flip)"], rows))


if __name__ == "__main__":
    main()
