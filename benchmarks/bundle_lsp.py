"""Bundle a trained top-down LSP model into the zoo: weights (fp16 unless --storage says otherwise) + the run's sidecar,
with the LSPET test figures measured here (the same numbers as bench_lsp_accuracy.py) written into ``test_metrics``.

    python benchmarks/bundle_lsp.py RUN/model.safetensors NAME --command "posekit train ... (what trained it)"
        [--storage float16|float32|int8]

The bundled copy is scored again after storage (fp16 or int8 moves a few joints across the threshold), and that is
what the sidecar records.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import SHARED_DATA

ZOO = Path(__file__).resolve().parents[1] / "posekit" / "zoo"
SPLIT = "8501:9500"


def score(name_or_path: str) -> dict:
    """PCK@0.2 (torso) without and with flip, and the flip run's bbox PCK, AUC and EPE on LSPET test."""
    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import evaluate_pck

    lsp = SHARED_DATA / "lspet"
    gt = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, SPLIT), images_dir=lsp / "images")
    estimator = TopDownEstimator.load(name_or_path)
    dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
    out = {}
    for flip in (False, True):
        results = predict_dataset(estimator.model, dataset, flip=flip, mean=estimator.mean, std=estimator.std)
        out[flip] = evaluate_pck(gt, results)
    plain, flipped = out[False], out[True]
    return {"split": "LSPET test im08501-im09500, tight visible-joint boxes",
            "PCK@0.2": round(plain["PCK@0.2"], 4), "PCK@0.2_flip": round(flipped["PCK@0.2"], 4),
            "PCK@0.2_bbox_flip": round(flipped["PCK@0.2_bbox"], 4), "AUC_flip": round(flipped["AUC"], 4),
            "EPE_flip": round(flipped["EPE"], 2), "command": "python benchmarks/bench_lsp_accuracy.py MODEL"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", help="the run's model.safetensors (its model.json beside it)")
    ap.add_argument("name", help="zoo name to write, e.g. hourglass-lsp")
    ap.add_argument("--command", required=True, help="the training command(s) to record in the sidecar")
    ap.add_argument("--storage", default="float16", choices=("float16", "float32", "int8"),
                    help="weight storage (posekit.io.save_weights): fp16 is half of fp32's size, int8 a quarter")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from posekit.io import load_model, save_weights

    torch.set_num_threads(args.threads)
    model, sidecar = load_model(args.weights)
    sidecar = {**sidecar, "name": args.name, "command": args.command}
    sidecar.pop("storage_dtype", None)
    target = save_weights(model, ZOO / f"{args.name}.safetensors", sidecar, args.storage)
    sidecar["test_metrics"] = score(args.name)
    save_weights(load_model(args.name)[0], target, sidecar, args.storage)  # same values, sidecar with figures
    print(json.dumps(sidecar["test_metrics"], indent=2))
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MB) and {target.with_suffix('.json')}")


if __name__ == "__main__":
    main()
