"""Training-sample pipeline throughput on LSPET, one core: JPEG decode + augment + 256x192 crop + encode.

    python benchmarks/bench_pipeline.py [--n 600] [--repeats 5] [--record]

Reference (issue #2): MMPose 1.3.2's equivalent pipeline runs at about 450-480 samples/s per core on this machine.
"""
from __future__ import annotations

import argparse
import sys

import cv2
import torch

from common import SHARED_DATA, median_rate, record, table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--record", action="store_true", help="append the table to docs/BENCHMARKS.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    from posekit.codecs.heatmap import MSRAHeatmap, UDPHeatmap
    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import Augment, TopDownDataset

    lsp = SHARED_DATA / "lspet"
    if not lsp.is_dir():
        sys.exit(f"LSPET not found at {lsp}")
    coco = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, f"1:{args.n}"), images_dir=lsp / "images")
    rows = []
    for name, codec in (("UDP heatmap", UDPHeatmap((192, 256), (48, 64), 2.0)),
                        ("MSRA heatmap", MSRAHeatmap((192, 256), (48, 64), 2.0))):
        ds = TopDownDataset(coco, codec, Augment())

        def run():
            for i in range(len(ds)):
                ds[i]

        rate, rates = median_rate(run, len(ds), args.repeats)
        rows.append([name, "256x192", f"{rate:,.0f}", f"{min(rates):,.0f}-{max(rates):,.0f}", f"{rate / 465:.2f}x"])
    text = table(["codec", "crop", "samples/s (1 core, median)", "range", "vs MMPose ~465/s"], rows)
    print(text)
    if args.record:
        record("Training-sample pipeline (LSPET, 1 core)", text, "python benchmarks/bench_pipeline.py --record")


if __name__ == "__main__":
    main()
