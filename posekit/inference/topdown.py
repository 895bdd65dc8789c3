"""Top-down inference: person boxes -> crops -> heatmaps (+ flip) -> keypoints in image pixels."""
from __future__ import annotations

import numpy as np
import torch
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


@torch.no_grad()
def decode_batch(model, codec, images_uint8: torch.Tensor, affines: np.ndarray, flip_index, flip: bool,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD) -> tuple[np.ndarray, np.ndarray]:
    """uint8 crops (B,3,H,W) + image->crop affines (B,2,3) -> keypoints (B,K,2) image pixels, scores (B,K)."""
    device = next(model.parameters()).device
    images = normalize(images_uint8.to(device), mean, std).contiguous(memory_format=torch.channels_last)
    if isinstance(codec, BeliefMapCodec):  # the background map mirrors onto itself
        flip_index = [*flip_index, len(flip_index)]
    heatmaps = _forward(model, images, flip_index, codec.flip_shift, flip)
    coords, scores = codec.decode(heatmaps.float())
    kps = apply_affine(coords.cpu().numpy().astype(np.float64), invert_affine(affines))
    return kps.astype(np.float32), scores.cpu().numpy()


@torch.no_grad()
def predict_dataset(model, dataset: TopDownDataset, flip: bool = False, batch_size: int = 32,
                    workers: int = 0, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> list[dict]:
    """COCO keypoint results for every person of an (un-augmented) top-down dataset."""
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    results = []
    for batch in loader:
        kps, scores = decode_batch(model, dataset.codec, batch["image"], batch["affine"].numpy(),
                                   dataset.skeleton.flip_index, flip, mean, std)
        for i in range(len(kps)):
            results.append(_result(int(batch["image_id"][i]), kps[i], scores[i], batch["bbox"][i].tolist(),
                                   annotation_id=int(batch["annotation_id"][i])))
    return results


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

    def __call__(self, image_rgb: np.ndarray, boxes, flip: bool = False, batch_size: int = 32):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        crops, affines = inference_crops(image_rgb, boxes, self.codec.input_size, self.padding)
        kps, scores = [], []
        for s in range(0, len(boxes), batch_size):
            k, sc = decode_batch(self.model, self.codec, torch.from_numpy(crops[s:s + batch_size]),
                                 affines[s:s + batch_size], self.skeleton.flip_index, flip, self.mean, self.std)
            kps.append(k)
            scores.append(sc)
        k = self.skeleton.num_keypoints
        return (np.concatenate(kps) if kps else np.zeros((0, k, 2), np.float32),
                np.concatenate(scores) if scores else np.zeros((0, k), np.float32))
