"""Bundle a trained bottom-up model into the zoo: weights (fp16 unless --storage says otherwise) + the run's sidecar
with its tuned grouping options, and the figures of bench_bottomup.py (COCO OKS AP on the 500 unseen synthetic test
scenes and on coco_mini, with and without flip; with ``--scales``, also flip plus that multi-scale test) measured on
the stored copy and written into ``test_metrics``.

    python benchmarks/bundle_bottomup.py RUN/model.safetensors NAME --command "posekit train ... (what trained it)"
        --grouping '{"peak_threshold": 0.1, ...}' --grouping-tuned-on "how the tuning set was made"
        [--command-note TEXT] [--storage float16|float32|int8] [--scales 1,0.75,1.25,1.5]

``--grouping`` is what benchmarks/tune_grouping.py printed for these weights; without it the run's sidecar keeps
its own (or the defaults of posekit.inference.bottomup).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from pathlib import Path

from bench_bottomup import METRIC_KEYS, accuracy, evaluation_sets

from posekit.cli import scales_arg

ZOO = Path(__file__).resolve().parents[1] / "posekit" / "zoo"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights", help="the run's model.safetensors (its model.json beside it)")
    ap.add_argument("name", help="zoo name to write, e.g. openpose-synth")
    ap.add_argument("--command", required=True, help="the training command(s) to record in the sidecar")
    ap.add_argument("--command-note", help="anything about how the training ran that the command does not say")
    ap.add_argument("--grouping", type=json.loads, help="grouping options as JSON (tune_grouping.py's output)")
    ap.add_argument("--grouping-tuned-on", help="the tuning set and command the grouping options came from")
    ap.add_argument("--storage", default="float16", choices=("float16", "float32", "int8"),
                    help="weight storage (posekit.io.save_weights): fp16 is half of fp32's size, int8 a quarter")
    ap.add_argument("--scenes", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scales", type=scales_arg, metavar="S1,S2,...",
                    help="also measure flip plus this multi-scale test (`coco_oks_flip_scales`)")
    args = ap.parse_args()
    if args.grouping is not None and not args.grouping_tuned_on:
        ap.error("--grouping needs --grouping-tuned-on: say which scenes the options were tuned on")

    import torch

    from posekit.inference.bottomup import BottomUpEstimator
    from posekit.io import load_model, save_weights

    torch.set_num_threads(args.threads)
    model, sidecar = load_model(args.weights)
    if sidecar.get("task") != "bottomup":
        sys.exit(f"{args.weights}: not a bottom-up model (task {sidecar.get('task')!r})")
    sidecar = {**sidecar, "name": args.name, "command": args.command}
    sidecar.pop("storage_dtype", None)
    sidecar.pop("test_metrics", None)
    if args.grouping is not None:
        sidecar["grouping"] = args.grouping
        sidecar["grouping_tuned_on"] = args.grouping_tuned_on
    if args.command_note:
        sidecar["command_note"] = args.command_note
    target = save_weights(model, ZOO / f"{args.name}.safetensors", sidecar, args.storage)

    estimator = BottomUpEstimator.load(args.name)  # the stored copy, with the grouping options just written
    metrics = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, (what, gt) in evaluation_sets(args.scenes, tmp).items():
            metrics[key] = {"data": what}
            tests = [(False, (1.0,), "coco_oks"), (True, (1.0,), "coco_oks_flip")]
            if args.scales:
                tests.append((True, args.scales, "coco_oks_flip_scales"))
            for flip, scales, field in tests:
                m = accuracy(estimator, gt, flip, scales)
                metrics[key][field] = {k: round(m[k], 3) for k in METRIC_KEYS}
    if args.scales:
        metrics["scales"] = list(args.scales)
    metrics["measured_by"] = (f"python benchmarks/bundle_bottomup.py (= bench_bottomup.py MODEL), "
                              f"{datetime.date.today().isoformat()}")
    sidecar["test_metrics"] = metrics
    save_weights(load_model(args.name)[0], target, sidecar, args.storage)  # same values, sidecar with figures
    print(json.dumps(metrics, indent=2))
    print(f"wrote {target} ({target.stat().st_size / 2**20:.1f} MB) and {target.with_suffix('.json')}")


if __name__ == "__main__":
    main()
