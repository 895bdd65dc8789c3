"""How LSPET's annotators place the neck against the shoulders on upright people: the yardstick of the demo test.

    python benchmarks/lsp_label_geometry.py [--range 1:9500]

Upright = the shoulder midpoint lies within about 18 degrees of straight above the hip midpoint (all six joints
labelled). Heights are in head lengths (neck to head top), positive when the shoulder lies below the neck in the
image. Prints percentiles of each shoulder's and of the higher shoulder's height, and of the shoulder span.
"""
from __future__ import annotations

import argparse

import numpy as np

from common import SHARED_DATA
from posekit.data.lsp import parse_range, read_lsp_joints
from posekit.skeletons import LSP14

PERCENTILES = (1, 5, 25, 50)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--range", default="1:9500", help="LSPET image range A:B (default: all 9,500 images)")
    args = ap.parse_args()
    joints = read_lsp_joints(SHARED_DATA / "lspet" / "joints.mat")[0]
    start, stop = parse_range(args.range, len(joints))
    joints = joints[start - 1:stop]
    ix = {n: LSP14.index(n) for n in ("head_top", "neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip")}
    people = joints[np.all([joints[:, i, 2] > 0 for i in ix.values()], 0)]
    xy = {n: people[:, i, :2] for n, i in ix.items()}
    up = (xy["right_shoulder"] + xy["left_shoulder"]) / 2 - (xy["right_hip"] + xy["left_hip"]) / 2
    upright = up[:, 1] < -0.95 * np.linalg.norm(up, axis=1)
    head = np.linalg.norm(xy["head_top"] - xy["neck"], axis=1)
    keep = upright & (head > 0)
    below = {s: (xy[s][:, 1] - xy["neck"][:, 1])[keep] / head[keep] for s in ("right_shoulder", "left_shoulder")}
    rows = {
        "right shoulder below the neck": below["right_shoulder"],
        "left shoulder below the neck": below["left_shoulder"],
        "higher shoulder below the neck": np.minimum(below["right_shoulder"], below["left_shoulder"]),
        "shoulder span": np.abs(xy["right_shoulder"][:, 0] - xy["left_shoulder"][:, 0])[keep] / head[keep],
    }
    print(f"LSPET im{start:05d}-im{stop:05d}: {keep.sum()} upright people with head, neck, shoulders and hips labelled")
    print(f"neck above both shoulders: {np.mean(rows['higher shoulder below the neck'] > 0):.1%} of them")
    print("| in head lengths | " + " | ".join(f"p{p}" for p in PERCENTILES) + " |")
    print("|---|" + "---|" * len(PERCENTILES))
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{v:+.2f}" for v in np.percentile(values, PERCENTILES)) + " |")


if __name__ == "__main__":
    main()
