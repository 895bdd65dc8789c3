"""Top-down inference: person boxes -> crops -> heatmaps (+ flip, + scales) -> keypoints in image pixels.

Multi-scale test: each person is also cropped with the box padding multiplied by every extra scale; those
heatmaps are resampled onto the reference crop's heatmap grid (scale 1) and averaged before decoding, as the
flip test averages the mirrored maps.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ..codecs.heatmap import BeliefMapCodec, build_codec, flip_test
from ..data.topdown import IMAGENET_MEAN, IMAGENET_STD, TopDownDataset, inference_crops, normalize
from ..data.transforms import apply_affine, invert_affine
from ..skeletons import get_skeleton


def _forward(model, images: torch.Tensor, flip_index, flip_shift: int, flip: bool) -> torch.Tensor:
    if flip:
        return flip_test(model, images, flip_index, flip_shift)
    out = model(images)
    return out[-1] if isinstance(out, (list, tuple)) else out


def _homogeneous(affines: np.ndarray) -> np.ndarray:
    """(B,2,3) -> (B,3,3)."""
    out = np.zeros((len(affines), 3, 3))
    out[:, :2] = affines
    out[:, 2, 2] = 1.0
    return out


def resample_maps(maps: torch.Tensor, from_cells: np.ndarray, to_cells: np.ndarray,
                  out_size: tuple[int, int]) -> torch.Tensor:
    """Maps (B,C,h',w') on the grid whose cells are ``from_cells`` (B,3,3: image pixel -> cell, homogeneous),
    resampled (bilinear, zero outside) onto the grid ``to_cells`` (B,3,3) of ``out_size`` (w, h) cells."""
    b, _, source_h, source_w = maps.shape
    w, h = out_size
    m = from_cells @ np.linalg.inv(to_cells)  # target cell -> image pixel -> source cell
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    cells = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)])  # (3, h*w)
    source = (m @ cells)[:, :2]  # (B, 2, h*w) source cells
    grid = np.stack([source[:, 0] / max(source_w - 1, 1) * 2 - 1, source[:, 1] / max(source_h - 1, 1) * 2 - 1],
                    -1).reshape(b, h, w, 2)
    grid = torch.as_tensor(grid, dtype=maps.dtype, device=maps.device)
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def resample_heatmaps(heatmaps: torch.Tensor, from_affines: np.ndarray, to_affines: np.ndarray, codec) -> torch.Tensor:
    """Heatmaps (B,K,h,w) of crops taken with the image->crop affines ``from_affines`` (B,2,3), resampled
    (bilinear, zero outside) onto the heatmap grid of the crops ``to_affines`` (B,2,3) of the same images."""
    to_cells = np.diag([*codec._scale(), 1.0])  # input pixels -> heatmap cells
    return resample_maps(heatmaps, to_cells @ _homogeneous(from_affines), to_cells @ _homogeneous(to_affines),
                         (heatmaps.shape[-1], heatmaps.shape[-2]))


@torch.no_grad()
def average_heatmaps(model, codec, crops: Sequence[torch.Tensor], affines: Sequence[np.ndarray], flip_index,
                     flip: bool, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """The same people cropped at one or more scales -> float heatmaps (B,K',h,w) on the first crop's grid.

    ``crops[i]``: uint8 (B,3,H,W) taken with the image->crop affines ``affines[i]`` (B,2,3); the first is the
    reference whose heatmap grid the others are resampled onto before all are averaged.
    """
    device = next(model.parameters()).device
    if isinstance(codec, BeliefMapCodec):  # the background map mirrors onto itself
        flip_index = [*flip_index, len(flip_index)]
    total = None
    for images_uint8, affine in zip(crops, affines):
        images = normalize(images_uint8.to(device), mean, std).contiguous(memory_format=torch.channels_last)
        heatmaps = _forward(model, images, flip_index, codec.flip_shift, flip).float()
        if total is None:
            total = heatmaps
        else:
            total = total + resample_heatmaps(heatmaps, affine, affines[0], codec)
    return total / len(crops)


@torch.no_grad()
def decode_batch(model, codec, crops: Sequence[torch.Tensor], affines: Sequence[np.ndarray], flip_index,
                 flip: bool, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> tuple[np.ndarray, np.ndarray]:
    """The same people cropped at one or more scales (as :func:`average_heatmaps` takes them) -> keypoints
    (B,K,2) image pixels, scores (B,K)."""
    heatmaps = average_heatmaps(model, codec, crops, affines, flip_index, flip, mean, std)
    coords, scores = codec.decode(heatmaps)
    kps = apply_affine(coords.cpu().numpy().astype(np.float64), invert_affine(affines[0]))
    return kps.astype(np.float32), scores.cpu().numpy()


@torch.no_grad()
def predict_dataset(model, dataset: TopDownDataset, flip: bool = False, batch_size: int = 32,
                    workers: int = 0, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                    scales: Sequence[float] = (1.0,)) -> list[dict]:
    """COCO keypoint results for every person of an (un-augmented) top-down dataset.

    ``scales``: box-padding multipliers for the multi-scale test, the first the reference (default: 1.0 alone).
    """
    model.eval()
    results = []
    for batches in scaled_batches(dataset, scales, batch_size, workers):
        batch = batches[0]
        kps, scores = decode_batch(model, dataset.codec, [b["image"] for b in batches],
                                   [b["affine"].numpy() for b in batches], dataset.skeleton.flip_index, flip,
                                   mean, std)
        for i in range(len(kps)):
            results.append(_result(int(batch["image_id"][i]), kps[i], scores[i], batch["bbox"][i].tolist(),
                                   annotation_id=int(batch["annotation_id"][i])))
    return results


def scaled_batches(dataset: TopDownDataset, scales: Sequence[float], batch_size: int, workers: int = 0):
    """Batches of ``dataset``'s people in order, as tuples with one batch per scale: the people cropped with
    the box padding times each of ``scales`` (the dataset must be un-augmented)."""
    scales = check_scales(scales)
    datasets = [TopDownDataset(dataset.coco, dataset.codec, None, dataset.padding * s, dataset.people)
                if s != 1.0 else dataset for s in scales]
    loaders = [DataLoader(d, batch_size=batch_size, shuffle=False, num_workers=workers) for d in datasets]
    return zip(*loaders)


def check_scales(scales: Sequence[float]) -> tuple[float, ...]:
    """Validate multi-scale test factors: positive numbers, the first the reference crop."""
    scales = tuple(float(s) for s in scales)
    if not scales or any(not np.isfinite(s) or s <= 0 for s in scales):
        raise ValueError(f"test scales must be positive numbers, got {list(scales)}")
    return scales


def _result(image_id: int, kps: np.ndarray, scores: np.ndarray, bbox, **extra) -> dict:
    flat = np.concatenate([kps, scores[:, None]], 1).reshape(-1)
    return {"image_id": image_id, "category_id": 1, "keypoints": [round(float(v), 3) for v in flat],
            "score": float(scores.mean()), "bbox": [round(float(v), 2) for v in bbox], **extra}


class TopDownEstimator:
    """A loaded top-down model: ``estimator(image_rgb, boxes) -> (keypoints (N,K,2), scores (N,K))``."""

    def __init__(self, model, sidecar: dict):
        self.model = model.eval().to(memory_format=torch.channels_last)  # oneDNN's native layout: no reorders
        self.sidecar = sidecar
        self.skeleton = get_skeleton(sidecar["skeleton"])
        self.codec = build_codec(**sidecar["codec"])
        self.padding = sidecar.get("padding", 1.25)
        self.mean = tuple(sidecar.get("normalisation", {}).get("mean", IMAGENET_MEAN))
        self.std = tuple(sidecar.get("normalisation", {}).get("std", IMAGENET_STD))

    @classmethod
    def load(cls, name_or_path: str, device: str = "cpu") -> "TopDownEstimator":
        from ..io import load_model

        return cls(*load_model(name_or_path, device))

    def __call__(self, image_rgb: np.ndarray, boxes, flip: bool = False, batch_size: int = 32,
                 scales: Sequence[float] = (1.0,)):
        """``boxes`` (N,4) xywh image pixels; ``scales``: box-padding multipliers of the multi-scale test."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        crops, affines = zip(*(inference_crops(image_rgb, boxes, self.codec.input_size, self.padding * s)
                               for s in check_scales(scales)))
        kps, scores = [], []
        for s in range(0, len(boxes), batch_size):
            k, sc = decode_batch(self.model, self.codec, [torch.from_numpy(c[s:s + batch_size]) for c in crops],
                                 [a[s:s + batch_size] for a in affines], self.skeleton.flip_index, flip,
                                 self.mean, self.std)
            kps.append(k)
            scores.append(sc)
        k = self.skeleton.num_keypoints
        return (np.concatenate(kps) if kps else np.zeros((0, k, 2), np.float32),
                np.concatenate(scores) if scores else np.zeros((0, k), np.float32))
