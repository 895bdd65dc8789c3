"""Model cost and speed on CPU: params, GFLOPs, latency per crop (batch 1 and 32),
training throughput (fp32, and with ``train.amp``'s bf16 autocast where the CPU computes
bf16 natively, with the ratio of the two measured in the same run), and achieved GFLOP/s
against a measured fp32 matmul peak.

    python benchmarks/bench_models.py [--models NAME_PREFIX,...] [--threads 2] [--repeats 5] [--record]

GFLOPs are counted by torch.utils.flop_counter.FlopCounterMode (1 multiply-add = 2 FLOPs).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from common import flops, median_time, record, table
from posekit.engine.trainer import autocast_dtype

# name -> (factory, params, input (W, H))
DEFAULT_MODELS = {
    "simplebaseline_resnet18 (width 32, head 128; bundled)": ("simplebaseline_resnet18", {"head_channels": 128, "width": 32}, (160, 160)),
    "simplebaseline_resnet18 (width 32, head 128; stage 1)": ("simplebaseline_resnet18", {"head_channels": 128, "width": 32}, (128, 128)),
    "simplebaseline_resnet18 (width 64, head 128)": ("simplebaseline_resnet18", {"head_channels": 128}, (128, 128)),
    "vitpose_tiny_simple": ("vitpose_tiny_simple", {"input_size": [128, 128]}, (128, 128)),
    "cpm_small": ("cpm_small", {}, (128, 128)),
    "hourglass_stack2": ("hourglass_stack2", {}, (128, 128)),
    "cpn_resnet18 (width 32, channels 128)": ("cpn_resnet18", {"width": 32, "channels": 128}, (128, 128)),
}


def matmul_peak(threads: int, repeats: int) -> float:
    """Median fp32 GFLOP/s of a 2048^3 matmul."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        rates.append(2 * 2048**3 / (time.perf_counter() - t) / 1e9)
    return statistics.median(rates)


def measure(name, factory, params, size, repeats, channels_last, amp_dtype):
    from posekit.models import build_model

    w, h = size
    model = build_model(factory, num_keypoints=14, **params).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters()) / 1e6
    x1 = torch.randn(1, 3, h, w)
    x32 = torch.randn(32, 3, h, w)
    if channels_last:
        x1, x32 = (x.contiguous(memory_format=torch.channels_last) for x in (x1, x32))
    gflops = flops(model, x1) / 1e9
    with torch.no_grad():
        lat1 = median_time(lambda: model(x1), repeats * 4)  # all stages run; inference uses the last
        lat32 = median_time(lambda: model(x32), repeats)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    def last(out):
        return out[-1] if isinstance(out, (list, tuple)) else out

    target = torch.zeros_like(last(model(x32)))

    def step(dtype=None):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            out = last(model(x32))
        loss = ((out.float() - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    train = median_time(step, repeats)
    train_amp = median_time(lambda: step(amp_dtype), repeats) if amp_dtype else float("nan")
    return {"train_amp_sps": 32 / train_amp,"name": name, "input": f"{w}x{h}", "params_m": n_params, "gflops": gflops,
            "lat1_ms": lat1 * 1e3, "lat32_ms_per_crop": lat32 * 1e3 / 32,
            "train_sps": 32 / train, "achieved": gflops * 32 / lat32}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", help="comma-separated prefixes of the row names below (default: all)")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    prefixes = args.models.split(",") if args.models else [""]
    chosen = {k: v for k, v in DEFAULT_MODELS.items() if any(k.startswith(p) for p in prefixes)}
    if not chosen:
        ap.error(f"--models {args.models!r} matches none of: {', '.join(DEFAULT_MODELS)}")
    torch.set_num_threads(args.threads)
    amp_dtype = autocast_dtype(torch.device("cpu"))
    peak = matmul_peak(args.threads, args.repeats)
    rows = []
    for name, (factory, params, size) in chosen.items():
        r = measure(name, factory, params, size, args.repeats, channels_last=not factory.startswith("vitpose"),
                    amp_dtype=amp_dtype)
        rows.append([r["name"], r["input"], f"{r['params_m']:.2f}", f"{r['gflops']:.2f}", f"{r['lat1_ms']:.1f}",
                     f"{r['lat32_ms_per_crop']:.1f}", f"{r['train_sps']:.1f}", f"{r['train_amp_sps']:.1f}",
                     f"x{r['train_amp_sps'] / r['train_sps']:.2f}", f"{r['achieved']:.1f}",
                     f"{100 * r['achieved'] / peak:.0f}%"])
    text = table(["model", "input", "params (M)", "GFLOPs", "latency b1 (ms)", "latency b32 (ms/crop)",
                  "train fp32 (samples/s, b32)", "train amp (bf16)", "amp / fp32", "achieved GFLOP/s (b32)", "of matmul peak"], rows)
    if amp_dtype is None:
        text += "\n\nThis CPU has no native bf16: train.amp trains in fp32 here (the amp columns read nan)."
    text += f"\n\nfp32 matmul peak (2048^3, {args.threads} threads): {peak:.1f} GFLOP/s"
    print(text)
    if args.record:
        record(f"Model cost and speed (CPU, {args.threads} threads)", text,
               "python benchmarks/bench_models.py " + (f"--models '{args.models}' " if args.models else "")
               + f"--threads {args.threads} --record")


if __name__ == "__main__":
    main()
