"""Batched heatmap decoding speed: instances/s for 17x64x48 heatmaps (CPU).

    python benchmarks/bench_decode.py [--batch 1024] [--threads 1] [--record]

Reference (issue #2): MMPose's per-instance numpy decode runs at about 6,000 instances/s
(about 1,000/s with DARK) on this machine.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from common import median_rate, record, table


def realistic_heatmaps(batch: int, seed: int = 0) -> torch.Tensor:
    """Encoded Gaussians at random sub-pixel positions plus network-like noise. (B,17,64,48)."""
    from posekit.codecs.heatmap import UDPHeatmap

    codec = UDPHeatmap((192, 256), (48, 64), 2.0)
    rng = np.random.default_rng(seed)
    maps = np.stack([codec.encode(rng.uniform([4, 4], [187, 251], (17, 2)), np.ones(17))["heatmaps"]
                     for _ in range(min(batch, 64))])
    maps = np.resize(maps, (batch, 17, 64, 48))
    return torch.from_numpy(maps + rng.normal(0, 0.02, maps.shape).astype(np.float32))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from posekit.codecs.heatmap import MSRAHeatmap, UDPHeatmap

    maps = realistic_heatmaps(args.batch)
    rows = []
    for name, codec, reference in (("argmax + quarter offset", MSRAHeatmap(decoder="quarter"), 6000),
                                   ("DARK (MSRA, unbiased)", MSRAHeatmap(unbiased=True, decoder="dark"), 1000),
                                   ("UDP + DARK", UDPHeatmap(), 1000)):
        rate, rates = median_rate(lambda: codec.decode(maps), args.batch, args.repeats)
        rows.append([name, f"{rate:,.0f}", f"{min(rates):,.0f}-{max(rates):,.0f}", f"{rate / reference:.1f}x"])
    text = table([f"decoder (batch {args.batch}, {args.threads} thread)", "instances/s (median)", "range",
                  "vs MMPose per-instance"], rows)
    print(text)
    if args.record:
        record("Batched heatmap decoding, 17x64x48", text, f"python benchmarks/bench_decode.py --threads {args.threads} --record")


if __name__ == "__main__":
    main()
