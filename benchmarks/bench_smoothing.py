"""One Euro smoothing of keypoint tracks: real human motion, simulated per-frame detector noise.

The ground-truth tracks are the joints of the Bandai-Namco mocap test clips (styles `tired` and
`proud`, 30 fps) seen by an orthographic side-on camera with the person scaled to ``--height``
pixels. Each frame's keypoints get independent Gaussian noise of ``--noise`` pixels (std per
coordinate), standing in for a detector's frame-to-frame jitter. For each (min_cutoff, beta)
the table gives the mean keypoint error to the truth (px) and the jitter (mean |second
difference| of the track, px per frame^2) against the raw noisy tracks.

    python benchmarks/bench_smoothing.py [--noise 3 6] [--height 300] [--record]
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np

from common import ROOT, record
from posekit.inference.smoothing import OneEuroFilter
from posekit.synth.bvh import bandai_clips, read_bvh

MOCAP = ROOT.parent / "shared" / "data" / "mocap" / "bandai_namco_1"


def tracks(height_px: float) -> list[tuple[np.ndarray, float]]:
    """Per test clip: joint tracks (F, J, 2) in pixels and the frame time (s)."""
    out = []
    for path in bandai_clips(MOCAP, "test"):
        motion = read_bvh(path)
        positions = motion.global_transforms()[0]  # (F, J, 3), the file's units
        xy = np.stack([positions[..., 0], -positions[..., 1]], -1)
        first = xy[0]
        scale = height_px / (first[:, 1].max() - first[:, 1].min())
        out.append((xy * scale, motion.frame_time))
    return out


def score(clips, noise: float, min_cutoff: float | None, beta: float, seed: int = 0) -> tuple[float, float]:
    """(mean error px, jitter px/frame^2) over all clips; min_cutoff None = no filter."""
    rng = np.random.default_rng(seed)
    errors, jitters = [], []
    for truth, dt in clips:
        noisy = truth + rng.normal(0, noise, truth.shape)
        if min_cutoff is None:
            smoothed = noisy
        else:
            f = OneEuroFilter(min_cutoff, beta)
            smoothed = np.stack([f.filter(frame, dt) for frame in noisy])
        errors.append(np.hypot(*(smoothed - truth).transpose(2, 0, 1)).mean())
        jitters.append(np.hypot(*np.diff(smoothed, 2, axis=0).transpose(2, 0, 1)).mean())
    return float(np.mean(errors)), float(np.mean(jitters))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--noise", type=float, nargs="+", default=[3.0, 6.0], help="per-coordinate std, px")
    parser.add_argument("--height", type=float, default=300.0, help="person height, px")
    parser.add_argument("--min-cutoff", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0])
    parser.add_argument("--beta", type=float, nargs="+", default=[0.0, 0.01, 0.03, 0.05, 0.1])
    parser.add_argument("--record", action="store_true", help="append the tables to docs/BENCHMARKS.md")
    args = parser.parse_args()
    clips = tracks(args.height)
    frames = sum(len(t) for t, _ in clips)
    lines = [f"{len(clips)} mocap test clips, {frames} frames at {1 / clips[0][1]:.0f} fps, person "
             f"{args.height:.0f} px tall", ""]
    for noise in args.noise:
        raw_error, raw_jitter = score(clips, noise, None, 0.0)
        lines += [f"noise {noise:g} px per coordinate: raw tracks {raw_error:.2f} px error, {raw_jitter:.2f} jitter",
                  "", "| min_cutoff (Hz) | beta (1/px) | error (px) | jitter (px/frame^2) |", "|---|---|---|---|"]
        best = None
        for min_cutoff, beta in itertools.product(args.min_cutoff, args.beta):
            error, jitter = score(clips, noise, min_cutoff, beta)
            lines.append(f"| {min_cutoff:g} | {beta:g} | {error:.2f} | {jitter:.2f} |")
            if best is None or error < best[0]:
                best = (error, min_cutoff, beta)
        lines += ["", f"least error at noise {noise:g}: min_cutoff {best[1]:g}, beta {best[2]:g} "
                      f"({best[0]:.2f} px against {raw_error:.2f} raw)", ""]
    print("\n".join(lines))
    if args.record:
        command = " ".join(["python benchmarks/bench_smoothing.py", "--noise", *map(str, args.noise), "--height",
                            str(args.height), "--record"])
        record("One Euro smoothing on mocap tracks", "\n".join(lines), command)


if __name__ == "__main__":
    main()
