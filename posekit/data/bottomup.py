"""Bottom-up samples: a whole image, letterboxed to the model input, with every person's targets.

The letterbox (:func:`posekit.inference.bottomup.letterbox_matrix`, the geometry the
estimator uses at test time) is composed with a random similarity about the input
centre (scale, rotation, shift) and a horizontal flip; people's keypoints follow
the same affine (left/right channels swapped on a flip), and the regions of crowd
records and of people without keypoints become the loss mask's zeros.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..codecs.paf import PAFCodec, ignore_polygons
from .coco import CocoKeypoints
from .topdown import Augment
from .transforms import apply_affine, crop_rgb_planes


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine ``outer`` after ``inner``."""
    a = np.vstack([outer, [0, 0, 1]]) @ np.vstack([inner, [0, 0, 1]])
    return a[:2].astype(np.float32)


def augment_matrix(input_size: tuple[int, int], augment: Augment, rng) -> tuple[np.ndarray, bool]:
    """A random similarity about the input centre (+ mirror) in input pixels; returns (2x3, flipped)."""
    w, h = input_size
    cx, cy = (w - 1) / 2, (h - 1) / 2
    scale = rng.uniform(1 - augment.scale, 1 + augment.scale)
    angle = np.radians(rng.uniform(-augment.rotation, augment.rotation)) if rng.random() < augment.rotation_prob else 0.0
    flip = rng.random() < augment.flip_prob
    cos, sin = scale * np.cos(angle), scale * np.sin(angle)
    linear = np.array([[cos, sin], [-sin, cos]])
    if flip:
        linear[0] *= -1
    shift = rng.uniform(-augment.shift, augment.shift, 2) * (w, h)
    centre = np.array([cx, cy])
    t = centre + shift - linear @ centre
    return np.concatenate([linear, t[:, None]], 1).astype(np.float32), flip


class BottomUpDataset(Dataset):
    """Images of a :class:`CocoKeypoints` set as letterboxed inputs + :class:`PAFCodec` targets.

    Item: ``image`` uint8 (3,H,W) RGB, ``heatmaps`` (K,h,w), ``pafs`` (2C,h,w), ``mask`` (h,w),
    ``affine`` (2,3) image -> input pixels, ``image_id``.
    """

    def __init__(self, coco: CocoKeypoints, codec: PAFCodec, augment: Augment | None = None, seed: int = 0):
        if codec.skeleton != coco.skeleton.name and codec.links is None:
            raise ValueError(f"{coco.path}: skeleton {coco.skeleton.name} but the codec is for {codec.skeleton}")
        self.coco, self.codec, self.augment, self.seed = coco, codec, augment, seed
        self.skeleton = coco.skeleton
        self.image_ids = sorted(coco.images)
        self.people = coco.people_by_image()
        self.segmentations = {a["id"]: a.get("segmentation") for a in coco.raw.get("annotations", [])}
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.image_ids)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        from ..inference.bottomup import letterbox_matrix

        info = self.coco.images[self.image_ids[index]]
        image = cv2.imread(str(info.path), cv2.IMREAD_COLOR)
        if image is None:
            raise FileNotFoundError(f"{info.path}: image file missing or unreadable (image id {info.id})")
        size = self.codec.input_size
        affine = letterbox_matrix((image.shape[1], image.shape[0]), size)
        flip, rng = False, None
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            jitter, flip = augment_matrix(size, self.augment, rng)
            affine = _compose(jitter, affine)
        planes = crop_rgb_planes(image, affine, size, self.augment.colour if self.augment else 0.0, rng)

        people = self.people[info.id]
        annotated = [p for p in people if not p.iscrowd and p.num_keypoints > 0]
        missing = [p for p in people if p.iscrowd or p.num_keypoints == 0]
        k = self.skeleton.num_keypoints
        kps = np.stack([p.keypoints for p in annotated]) if annotated else np.zeros((0, k, 3), np.float32)
        kps = kps.copy()
        kps[..., :2] = apply_affine(kps[..., :2], affine)
        if flip:
            kps = kps[:, self.skeleton.flip_index]
        w, h = size
        outside = (kps[..., 0] < 0) | (kps[..., 0] > w - 1) | (kps[..., 1] < 0) | (kps[..., 1] > h - 1)
        kps[outside, 2] = 0
        polygons = ignore_polygons(np.array([p.bbox for p in missing]).reshape(-1, 4),
                                   [_polygon_or_none(self.segmentations.get(p.id)) for p in missing])
        targets = self.codec.encode(kps, [apply_affine(poly, affine) for poly in polygons])
        return {
            "image": torch.from_numpy(planes),
            **{name: torch.from_numpy(v) for name, v in targets.items()},
            "affine": torch.from_numpy(affine),
            "image_id": info.id,
        }


def _polygon_or_none(segmentation):
    """COCO polygons pass through; RLE dicts (not polygons) fall back on the box."""
    return segmentation if isinstance(segmentation, list) else None
