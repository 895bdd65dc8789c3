"""``posekit synth``: render a synthetic dataset (see :func:`posekit.synth.io.generate`).

Run standalone as ``python -m posekit.synth.cli --n 100 --out DIR --seed 0``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .io import generate
from .scene import SynthConfig, pose_library, resolve_mocap_dir


def range_arg(cast):
    """argparse type: 'A:B' -> (A, B) cast by ``cast``."""
    def parse(text: str):
        try:
            lo, hi = (cast(v) for v in text.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected A:B, got {text!r}") from None
        return lo, hi
    return parse


def size_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 256x256, got {text!r}") from None
    return w, h


def default_workers() -> int:
    """Render processes when ``--workers`` is not given: one per CPU, none (render here) on one CPU."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cpus if cpus > 1 else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, required=True, help="number of scenes")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="scene i depends only on (seed, i)")
    parser.add_argument("--people", type=range_arg(int), default=(1, 3), metavar="A:B", help="people per scene (1:3)")
    parser.add_argument("--size", type=size_arg, default=(256, 256), metavar="WxH", help="image size (256x256)")
    parser.add_argument("--keypoints", default="coco17", choices=["coco17", "lsp14", "synth_body"])
    parser.add_argument("--scale", type=range_arg(float), default=(0.35, 0.95), metavar="A:B",
                        help="standing person height / image height (0.35:0.95)")
    parser.add_argument("--mocap", default="auto",
                        help="Bandai-Namco-Research-Motiondataset-1 folder, 'auto' (default) or 'none'")
    parser.add_argument("--split", default="train", choices=["train", "test", "all"],
                        help="mocap clips: test = styles tired and proud")
    parser.add_argument("--random-pose-prob", type=float, default=0.2,
                        help="share of poses sampled within joint limits instead of mocap")
    parser.add_argument("--backgrounds", default=None, help="folder of photos to use as backgrounds")
    parser.add_argument("--format", default="jpg", choices=["jpg", "png"], help="image format")
    parser.add_argument("--compress", action="store_true", help="deflate the label files")
    parser.add_argument("--workers", type=int, default=None,
                        help="render in this many processes (default: one per CPU; 0: in this one); "
                             "the scenes do not depend on it")
    parser.add_argument("--preview", action="store_true", help="also write preview.png")


def run(args: argparse.Namespace) -> int:
    """Render the dataset ``args`` describe; 0 on success, 2 on a bad argument or path."""
    try:
        config = SynthConfig(
            width=args.size[0], height=args.size[1], people=tuple(args.people), keypoints=args.keypoints,
            person_scale=tuple(args.scale), mocap_dir=None if args.mocap == "none" else args.mocap,
            split=args.split, random_pose_prob=args.random_pose_prob, backgrounds_dir=args.backgrounds,
        )
        library = pose_library(config)
        if library is None:
            print("poses: random within the joint limits (no mocap folder)", file=sys.stderr)
        else:
            print(f"poses: {len(library)} mocap frames of {len(library.clips)} {config.split} clips from "
                  f"{resolve_mocap_dir(config.mocap_dir)}, {config.random_pose_prob:.0%} random", file=sys.stderr)
        start = time.perf_counter()
        path = generate(args.n, args.out, args.seed, config, image_format=args.format, preview=args.preview,
                        compress=args.compress, workers=default_workers() if args.workers is None else args.workers)
    except (ValueError, KeyError, FileNotFoundError) as err:
        print(f"posekit synth: error: {err}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(f"wrote {args.n} scenes to {path.parent} in {seconds:.1f} s ({args.n / max(seconds, 1e-9):.1f} scenes/s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="posekit synth", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
