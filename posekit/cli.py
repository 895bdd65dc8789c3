"""The ``posekit`` command. It only parses arguments and calls the Python API."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EPILOG = """examples:
  posekit demo                                    run the bundled model on sample photos
  posekit convert lsp --joints lspet/joints.mat --images lspet/images --out train.json --range 1:8500
  posekit convert mosaic --ann train.json --images lspet/images --out mosaics/ --n 5000
  posekit train configs/simplebaseline_r18_lsp.yaml train.epochs=2 --resume
  posekit eval --model default --gt test.json --images lspet/images --flip
  posekit eval --gt test.json --pred predictions.json --metric pck
  posekit predict photos/ --model default --out outputs/
  posekit synth --n 100 --out synth/ --seed 0 --preview
"""


def _cmd_convert(args) -> int:
    from .data.lsp import convert_lsp

    data = convert_lsp(args.joints, args.images, args.out, args.range)
    print(f"wrote {args.out}: {len(data['images'])} images, {len(data['annotations'])} people (lsp14)")
    return 0


def _cmd_mosaic(args) -> int:
    from .data.coco import load_coco
    from .data.mosaic import write_mosaics

    coco = load_coco(args.ann, images_dir=args.images)
    path = write_mosaics(coco, args.n, args.out, args.seed, args.size, args.grid, args.scale)
    print(f"wrote {args.n} mosaics of {len(coco.trainable_people())} people to {path}")
    return 0


def _cmd_eval(args) -> int:
    from .data.coco import load_coco, load_results
    from .metrics import evaluate, format_table

    if args.pred and args.model:
        raise SystemExit("posekit eval: give either --pred (score a results file) or --model (run and score), not both")
    if args.pred:
        gt = load_coco(args.gt)
        metrics = evaluate(gt, load_results(args.pred, gt.skeleton.num_keypoints), args.metric)
    elif args.model:
        from .predict import evaluate_model

        if not args.images:
            raise SystemExit("posekit eval --model: --images DIR is needed to read the ground-truth images")
        metrics, results = evaluate_model(args.model, args.gt, args.images, args.flip, args.metric, args.device,
                                          scales=args.scales)
        if args.save_pred:
            Path(args.save_pred).write_text(json.dumps(results))
    else:
        raise SystemExit("posekit eval: give --pred predictions.json or --model NAME_OR_PATH")
    print(format_table(metrics))
    if args.out:
        Path(args.out).write_text(json.dumps(metrics, indent=2))
        print(f"wrote {args.out}")
    return 0


def _cmd_train(args) -> int:
    from .engine.config import load_config
    from .engine.trainer import train

    cfg = load_config(args.config, args.overrides)
    command = "posekit train " + " ".join([args.config, *args.overrides] + (["--resume"] if args.resume else []))
    best = train(cfg, resume=args.resume, command=command)
    print(json.dumps({"out_dir": cfg.out_dir, "best": best}, indent=2))
    return 0


def _cmd_predict(args) -> int:
    from .predict import predict

    summary = predict(args.inputs, args.model, args.out, args.boxes, args.flip, args.device, smooth=args.smooth,
                      scales=args.scales)
    print(f"{summary['people']} people in {summary['images']} images and {summary['frames']} video frames")
    print(f"predictions: {summary['predictions']}")
    print(f"overlays:    {Path(args.out).resolve()}/*_pose.png, *_pose.mp4")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    for line in run_demo(args.out, args.model):
        print(line)
    return 0


def _cmd_synth(args) -> int:
    from .synth.cli import run

    return run(args)


SCALES_HELP = ("multi-scale test, maps averaged over the scales, the first the reference: box-padding multipliers "
               "for top-down models (e.g. 1,0.88,1.12), input-size multipliers for bottom-up ones (e.g. "
               "1,0.75,1.25,1.5); default 1: one pass")


def scales_arg(text: str) -> tuple[float, ...]:
    """'1,0.88,1.12' -> (1.0, 0.88, 1.12): positive numbers, comma-separated."""
    try:
        scales = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 1,0.88,1.12, got {text!r}")
    if any(not s > 0 or s == float("inf") for s in scales):
        raise argparse.ArgumentTypeError(f"scales must be positive, got {text!r}")
    return scales


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posekit", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Human pose estimation: convert data, train, evaluate, predict, render synthetic people.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from .synth.cli import range_arg, size_arg

    p = sub.add_parser("convert", help="convert a dataset to COCO keypoint JSON")
    conv = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    c = conv.add_parser("lsp", help="LSP / LSPET joints.mat -> COCO JSON (lsp14 skeleton)",
                        description="Convert LSP (3,14,N) or LSPET (14,3,N) joints.mat to COCO keypoint JSON. "
                                    "v=2 visible, v=1 occluded inside the image, v=0 unusable; bbox = tight box of "
                                    "the visible joints; image_id = image number.")
    c.add_argument("--joints", required=True, help="joints.mat")
    c.add_argument("--images", required=True, help="folder with im%%05d.jpg / im%%04d.jpg")
    c.add_argument("--out", required=True, help="output JSON path")
    c.add_argument("--range", help="image numbers A:B, 1-based inclusive (default: all)")
    c.set_defaults(func=_cmd_convert)
    c = conv.add_parser("mosaic", help="tile single-person crops into multi-person images (bottom-up training)",
                        description="Cut a WxH canvas into an r x c grid (r, c drawn from --grid) and put one random "
                                    "person of the source set in each cell (box padded 1.25, --scale of the cell). "
                                    "Writes OUT/annotations.json (COCO, the source's skeleton) and OUT/images/. "
                                    "Mosaic i depends only on (seed, i).")
    c.add_argument("--ann", required=True, help="source COCO keypoint JSON (e.g. from convert lsp)")
    c.add_argument("--images", required=True, help="image folder of the source")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--n", type=int, required=True, help="number of mosaics")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--size", type=size_arg, default=(256, 256), help="canvas WxH (default 256x256)")
    c.add_argument("--grid", type=range_arg(int), default=(1, 3),
                   help="rows and columns, each drawn from A:B (default 1:3)")
    c.add_argument("--scale", type=range_arg(float), default=(0.7, 1.0),
                   help="person patch size as a fraction of its cell (default 0.7:1.0)")
    c.set_defaults(func=_cmd_mosaic)

    p = sub.add_parser("eval", help="score predictions (or a model) against ground truth",
                       description="Metrics-only: --gt ann.json --pred predictions.json. Model: --model NAME_OR_PATH "
                                   "--gt ann.json --images DIR runs the model (top-down: on the ground-truth person "
                                   "boxes; bottom-up: on whole images). "
                                   "pck prints PCK@0.2 (torso), PCK@0.2_bbox, AUC, EPE; coco prints AP, AP50, AP75, "
                                   "APm, APl, AR (fractions in [0, 1]).")
    p.add_argument("--gt", required=True, help="ground truth COCO keypoint JSON")
    p.add_argument("--pred", help="COCO keypoint results JSON")
    p.add_argument("--model", help="zoo name (e.g. default) or path to .safetensors")
    p.add_argument("--images", help="image folder of the ground truth (with --model)")
    p.add_argument("--flip", action="store_true", help="flip test: average with the mirrored image")
    p.add_argument("--scales", type=scales_arg, default=(1.0,), metavar="S1,S2,...", help=SCALES_HELP)
    p.add_argument("--metric", choices=("pck", "coco"), default="pck")
    p.add_argument("--out", help="write the metrics as JSON here")
    p.add_argument("--save-pred", help="with --model: also write the predictions here")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("train", help="train a recipe (YAML) with key=value overrides",
                       description="Train from configs/*.yaml. Overrides: train.lr=3e-4 data.workers=0 ... "
                                   "Checkpoints go to OUT_DIR/last.pt; --resume continues exactly. "
                                   "Multi-process: torchrun --nproc_per_node N -m posekit train CONFIG.")
    p.add_argument("config", help="recipe YAML")
    p.add_argument("overrides", nargs="*", help="key.sub=value (values parsed as YAML)")
    p.add_argument("--resume", action="store_true", help="continue from OUT_DIR/last.pt")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("predict", help="find people's keypoints in images and videos",
                       description="Writes OUT/predictions.json (COCO results with file_name, and frame for videos) "
                                   "and OUT/<stem>_pose.png per image, OUT/<stem>_pose.mp4 per video. Without --boxes "
                                   "each whole image is one person; in a video, the previous frame's keypoints give "
                                   "the next frame's box.")
    p.add_argument("inputs", nargs="+", help="image files, video files (.mp4, .avi, .mov, .mkv, .webm, .m4v) or "
                                             "folders of them")
    p.add_argument("--model", default="default", help="zoo name or .safetensors path (default: the bundled model)")
    p.add_argument("--boxes", help="COCO detections JSON [{image_id or file_name (+ frame), bbox, score}]")
    p.add_argument("--flip", action="store_true", help="flip test")
    p.add_argument("--scales", type=scales_arg, default=(1.0,), metavar="S1,S2,...", help=SCALES_HELP)
    p.add_argument("--smooth", action="store_true", help="videos: One Euro filter on the tracked person's keypoints")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("demo", help="run the bundled default model on bundled sample photos")
    p.add_argument("--out", default="outputs/demo", help="output folder (default: outputs/demo)")
    p.add_argument("--model", default="default")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("synth", help="render synthetic people with dense labels",
                       description="Writes DIR/annotations.json (COCO), DIR/images/, DIR/labels/*.npz "
                                   "(instances, parts, depth, normals, keypoints3d, K).")
    from .synth.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=_cmd_synth)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .data.coco import AnnotationError
    from .engine.config import ConfigError
    from .runtime import keep_freed_memory

    keep_freed_memory()

    try:
        return args.func(args)
    except (AnnotationError, ConfigError, FileNotFoundError, ValueError) as e:
        print(f"posekit {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
