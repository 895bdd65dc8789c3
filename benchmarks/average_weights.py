"""Average the end points of warm-restart cycles (SWA) and recompute BatchNorm statistics on training crops.

    python benchmarks/average_weights.py CONFIG A.safetensors B.safetensors [...] --out DIR [--batches 100]

CONFIG is the recipe that trained the weights: its training data, padding and augmentation make the crops the
BatchNorm statistics are recomputed on (augmented, as during training). Writes DIR/model.safetensors and its
sidecar; score it with bench_lsp_accuracy.py or bundle it with bundle_lsp.py.
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config", help="the recipe (YAML) that trained the weights")
    ap.add_argument("weights", nargs="+", help="two or more weight files of one architecture")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--batches", type=int, default=100, help="training batches for the BatchNorm statistics")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch
    from torch.optim.swa_utils import update_bn
    from torch.utils.data import DataLoader

    from posekit.codecs.heatmap import build_codec
    from posekit.data.topdown import TopDownDataset, normalize
    from posekit.engine.averaging import average_weights
    from posekit.engine.config import load_config
    from posekit.engine.trainer import load_source
    from posekit.io import save_weights

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    model, sidecar = average_weights(args.weights)
    coco = load_source(cfg.data.train, cfg.skeleton)
    codec = build_codec(**sidecar["codec"])
    crops = TopDownDataset(coco, codec, cfg.augment, cfg.data.padding, coco.trainable_people(), seed=cfg.train.seed)
    loader = DataLoader(crops, batch_size=cfg.train.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(cfg.train.seed))
    mean, std = sidecar["normalisation"]["mean"], sidecar["normalisation"]["std"]
    model = model.to(memory_format=torch.channels_last)
    images = (normalize(b["image"], mean, std).contiguous(memory_format=torch.channels_last)
              for b in itertools.islice(loader, args.batches))
    update_bn(images, model)
    sidecar.pop("metric", None)  # the first file's score, not this model's
    sidecar["bn_recalibration"] = {"batches": args.batches, "batch_size": cfg.train.batch_size,
                                   "data": "training crops, augmented as in training"}
    out = save_weights(model.eval(), Path(args.out) / "model", sidecar)
    print(f"averaged {len(args.weights)} files, BatchNorm from {args.batches} batches -> {out}")


if __name__ == "__main__":
    main()
