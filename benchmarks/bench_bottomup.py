"""Bottom-up models on unseen synthetic multi-person scenes and on coco_mini: COCO OKS AP with and without
flip test (and, with ``--scales``, flip plus the multi-scale test), params, GFLOPs and the CPU latency per
image (network + grouping).

    python benchmarks/bench_bottomup.py MODEL [MODEL ...] [--labels A,B,...] [--scenes 500] [--threads 2]
        [--latency 20] [--grouping JSON] [--scales 1,0.75,1.25,1.5] [--record]

MODEL is a zoo name or a .safetensors path. The synthetic set is the issue's fixed validation set,
rendered into a temporary folder (scene i depends only on (seed, i), so it equals
``posekit synth --n 500 --out DIR --seed 2 --people 2:6 --size 256x256 --keypoints coco17 --split test``:
mocap styles tired and proud, never trained on). Same AP as ``posekit eval --model MODEL --gt
DIR/annotations.json --images DIR/images --metric coco [--flip]``. Latency: median over ``--latency``
images of one estimator call (letterbox, forward, grouping), no flip, with flip (and with flip and the
scales). ``--grouping`` overrides
grouping options of every model's sidecar, e.g. ``'{"completion_radius": 0}'`` for the grouping without completion.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

from common import SHARED_DATA, flops, model_labels, record, table

from posekit.cli import scales_arg


METRIC_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR")


def evaluation_sets(scenes: int, directory: str) -> dict[str, tuple[str, object]]:
    """{key: (what the set is, CocoData)}: ``synth_val``, the first ``scenes`` synthetic test scenes rendered into
    ``directory``, and ``coco_mini`` when ../shared/data has it. The keys are those of a bundle's ``test_metrics``."""
    from posekit.data.coco import load_coco
    from posekit.synth import SynthConfig, generate

    mocap = SHARED_DATA / "mocap" / "bandai_namco_1"
    if not mocap.is_dir():
        sys.exit(f"mocap data not found at {mocap}")
    config = SynthConfig(width=256, height=256, people=(2, 6), keypoints="coco17", mocap_dir=str(mocap), split="test")
    synth = load_coco(generate(scenes, directory, seed=2, config=config), images_dir=f"{directory}/images")
    sets = {"synth_val": (f"posekit synth --n {scenes} --seed 2 --people 2:6 --size 256x256 --keypoints coco17 "
                          "--split test", synth)}
    coco_mini = SHARED_DATA / "coco_mini"
    if coco_mini.is_dir():
        ann = next((coco_mini / "annotations").glob("*.json"))
        sets["coco_mini"] = ("../shared/data/coco_mini (80 real COCO images)",
                             load_coco(ann, images_dir=coco_mini / "train2017"))
    return sets


def accuracy(estimator, gt, flip: bool, scales=(1.0,)) -> dict[str, float]:
    """COCO OKS metrics (fractions) of a bottom-up estimator on every image of ``gt``."""
    from posekit.inference.bottomup import predict_coco
    from posekit.metrics.coco import evaluate_coco

    metrics = evaluate_coco(gt, predict_coco(estimator, gt, flip, scales))
    return {k: metrics[k] for k in METRIC_KEYS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--labels", help="comma-separated names for the models, in order")
    ap.add_argument("--scenes", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--latency", type=int, default=20, help="images to time")
    ap.add_argument("--grouping", type=json.loads, default={}, help="grouping options overriding the sidecars'")
    ap.add_argument("--scales", type=scales_arg, default=(1.0,), metavar="S1,S2,...",
                    help="also measure flip plus this multi-scale test (input-size multipliers)")
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    labels = model_labels(ap, args)
    import torch

    torch.set_num_threads(args.threads)
    from posekit.data.coco import read_image
    from posekit.inference.bottomup import BottomUpEstimator

    tests = [(False, (1.0,)), (True, (1.0,))] + ([(True, args.scales)] if args.scales != (1.0,) else [])
    scale_text = ",".join(f"{x:g}" for x in args.scales)
    test_names = ["no", "yes", *([f"yes, scales {scale_text}"] * (len(tests) > 2))]
    tmp = tempfile.TemporaryDirectory()
    sets = evaluation_sets(args.scenes, tmp.name)
    rows, costs = [], []
    for name, label in zip(args.models, labels):
        estimator = BottomUpEstimator.load(name)
        estimator.grouping.update(args.grouping)
        w, h = estimator.codec.input_size
        with torch.no_grad():
            gflops = flops(estimator.model, torch.randn(1, 3, h, w)) / 1e9
        params = sum(p.numel() for p in estimator.model.parameters()) / 1e6
        first = sets["synth_val"][1]
        images = [read_image(info.path) for info in list(first.images.values())[: args.latency]]
        latency = []
        for flip, scales in tests:
            estimator(images[0], flip, scales)  # warm-up
            times = []
            for image in images:
                t = time.perf_counter()
                estimator(image, flip, scales)
                times.append(time.perf_counter() - t)
            latency.append(f"{1e3 * statistics.median(times):.1f}")
        costs.append([label, f"{params:.2f}", f"{gflops:.2f}", *latency])
        for set_name, (_, gt) in sets.items():
            for (flip, scales), test_name in zip(tests, test_names):
                m = accuracy(estimator, gt, flip, scales)
                rows.append([label, set_name, test_name, *(f"{m[k]:.3f}" for k in METRIC_KEYS)])
    text = table(["model", "set", "flip", *METRIC_KEYS], rows)
    text += "\n\n" + table(["model", "params (M)", "GFLOPs (256x256)", "ms per image", "ms per image, flip",
                             *(f"ms per image, flip + scales {scale_text}",) * (len(tests) > 2)], costs)
    text += "\n\nSets: " + "; ".join(f"{key} = `{what}`" for key, (what, _) in sets.items())
    text += f"\n\nLatency: letterbox + network + grouping, median of {args.latency} images, {args.threads} threads."
    print(text)
    if args.record:
        record("Bottom-up models: COCO AP on unseen synthetic scenes and coco_mini", text,
               "python benchmarks/bench_bottomup.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
