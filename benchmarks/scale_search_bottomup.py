"""Does OpenPose's test-time scale search help a bottom-up model? COCO AP with the maps of several input scales
averaged (the released OpenPose code's ``scale_search``), flip test on.

    python benchmarks/scale_search_bottomup.py MODEL --gt DIR/annotations.json --images DIR/images
        [--scales "1;1,1.5;1,1.5,2;1.5;2"] [--limit 60] [--threads 2]

Each scale s letterboxes the image into an input s times the model's (rounded to a multiple of 32) and runs
the network with flip; every scale's maps are resampled bilinearly (UDP: pixel centres aligned) onto the
grid of the largest scale, averaged, and grouped there with the sidecar's grouping options. Use a set the
model was not trained on, e.g. the grouping tuning scenes (runs/synth_tune, seed 3).
"""
from __future__ import annotations

import argparse
import dataclasses

from common import table


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--gt", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--scales", default="1;1,1.5;1,1.5,2;1.5;2", help="';'-separated sets of ','-separated scales")
    ap.add_argument("--limit", type=int, default=60, help="first N images")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    from posekit.data.coco import load_coco, read_image
    from posekit.inference.bottomup import BottomUpEstimator
    from posekit.inference.topdown import _result
    from posekit.metrics.coco import evaluate_coco

    scale_sets = [tuple(float(s) for s in group.split(",")) for group in args.scales.split(";")]
    gt = load_coco(args.gt, images_dir=args.images)
    gt.images = dict(list(gt.images.items())[:args.limit])
    estimator = BottomUpEstimator.load(args.model)
    base = estimator.codec
    stride = base.input_size[0] / base.heatmap_size[0]

    def codec_at(scale: float):
        w, h = (max(32, round(v * scale / 32) * 32) for v in base.input_size)
        return dataclasses.replace(base, input_size=(w, h), heatmap_size=(round(w / stride), round(h / stride)))

    def maps_at(image, scale: float):
        """(maps (K+2C, h, w), image px -> map px factor, codec, image -> input affine) at one scale."""
        estimator.codec = codec_at(scale)
        heatmaps, pafs, affine = estimator.maps(image, flip=True)
        factor = float(affine[0, 0] * estimator.codec._scale()[0])
        return np.concatenate([heatmaps, pafs]), factor, estimator.codec, affine

    k = base.num_keypoints
    per_image = {}
    for image_id, info in gt.images.items():
        image = read_image(info.path)
        per_image[image_id] = {s: maps_at(image, s) for s in sorted({s for group in scale_sets for s in group})}
    rows = []
    for group in scale_sets:
        results = []
        for image_id, by_scale in per_image.items():
            finest = max((by_scale[s] for s in group), key=lambda m: m[1])
            _, top_factor, top_codec, top_affine = finest
            h, w = finest[0].shape[1:]
            total = 0
            for maps, factor, _, _ in (by_scale[s] for s in group):
                # finest-grid pixel t -> this scale's map pixel t * factor / top_factor, as grid_sample coordinates
                xs = torch.arange(w, dtype=torch.float32) * factor / top_factor * 2 / (maps.shape[2] - 1) - 1
                ys = torch.arange(h, dtype=torch.float32) * factor / top_factor * 2 / (maps.shape[1] - 1) - 1
                grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1)[None]
                total = total + F.grid_sample(torch.from_numpy(maps)[None], grid, align_corners=True)[0].numpy()
            total /= len(group)
            estimator.codec = top_codec
            for kps, scores, score in zip(*estimator.people(total[:k], total[k:], top_affine)):
                result = _result(image_id, kps, scores, [0, 0, 0, 0])
                result["score"] = float(score)
                results.append(result)
        m = evaluate_coco(gt, results)
        rows.append([" + ".join(f"{s:g}" for s in group), *(f"{m[key]:.3f}" for key in ("AP", "AP50", "AP75", "AR"))])
    print(table(["scales (x input)", "AP", "AP50", "AP75", "AR"], rows))
    print(f"\n{len(gt.images)} images of {args.gt}, flip test on, grouping {estimator.grouping}.")


if __name__ == "__main__":
    main()
