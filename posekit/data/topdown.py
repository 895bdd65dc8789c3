"""Top-down samples: one person box -> an affine crop at the model's input size -> codec targets.

Every sample carries the 2x3 affine that maps image pixels into the crop, so
predictions map back exactly (:func:`posekit.data.transforms.invert_affine`).
Images are returned as uint8 (3,H,W) tensors; normalisation happens on the
model's device (:func:`normalize`), which keeps worker-to-trainer traffic small.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..skeletons import Skeleton
from .coco import CocoKeypoints, Person
from .transforms import (apply_affine, box_to_centre_scale, crop_matrix, crop_rgb_planes, erase_rectangle,
                         warp_image)

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # RGB, 0..255
IMAGENET_STD = (58.395, 57.12, 57.375)

_LOWER_BODY = ("hip", "knee", "ankle", "heel", "toe")
_ARMS = ("elbow", "wrist", "hand", "finger", "thumb")


@dataclass
class Augment:
    """Training augmentation. Probabilities in [0,1]; ``scale`` and ``shift`` are fractions of the box.

    scale: box scale drawn from [1-scale, 1+scale]; rotation: degrees, uniform in
    [-rotation, rotation] with probability ``rotation_prob``; shift: centre moves by
    up to this fraction of the box; half_body_prob: crop the upper or the lower
    body only (needs >= ``half_body_min_keypoints`` visible); portrait_prob: crop
    a head-and-shoulders portrait, the framing of a photo taken from the chest up
    (needs both shoulders and one head keypoint visible); colour: brightness,
    contrast and saturation jitter strength; erase_prob: paint one rectangle of
    uniform noise over the crop (random erasing, Zhong et al., AAAI 2020), covering
    2% to ``erase_area`` of it (:func:`~posekit.data.transforms.erase_rectangle`).
    The targets keep the joints it hides, so the network learns to place occluded
    joints from their context.
    """

    flip_prob: float = 0.5
    scale: float = 0.25
    rotation: float = 40.0
    rotation_prob: float = 0.6
    shift: float = 0.1
    half_body_prob: float = 0.3
    half_body_min_keypoints: int = 8
    portrait_prob: float = 0.0
    colour: float = 0.25
    erase_prob: float = 0.0
    erase_area: float = 0.2

    def __post_init__(self):
        if not 0.02 <= self.erase_area <= 1.0:
            raise ValueError(f"augment.erase_area must lie in [0.02, 1] (a fraction of the crop), got {self.erase_area}")


def normalize(images: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """uint8 (B,3,H,W) RGB -> float, standardised per channel."""
    mean = torch.as_tensor(mean, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
    return (images.float() - mean) / std


class TopDownDataset(Dataset):
    """People of a :class:`CocoKeypoints` set as crops + targets.

    Args:
        coco: the dataset; images must resolve to paths.
        codec: a heatmap codec (``input_size``, ``encode``).
        augment: training augmentation, or None for evaluation crops.
        padding: box enlargement factor (1.25 as in SimpleBaseline).
        people: which people to use; default: ``coco.trainable_people()``.
        teacher: distillation targets for these people (:class:`posekit.engine.distill.TeacherMaps`),
            blended into the heatmaps of every sample; None for the labels alone.
    Item: dict with ``image`` uint8 (3,H,W), ``heatmaps`` (K',h,w), ``weights`` (K',),
    ``keypoints`` (K,2) in crop pixels, ``visible`` (K,), ``affine`` (2,3) image->crop,
    ``image_id``, ``annotation_id``, ``bbox`` (4,).
    """

    def __init__(self, coco: CocoKeypoints, codec, augment: Augment | None = None,
                 padding: float = 1.25, people: list[Person] | None = None, seed: int = 0, teacher=None):
        self.coco = coco
        self.skeleton: Skeleton = coco.skeleton
        self.codec = codec
        self.augment = augment
        self.padding = padding
        self.people = coco.trainable_people() if people is None else people
        self.seed = seed
        self.epoch = 0
        self.teacher = teacher
        if teacher is not None and len(teacher) != len(self.people):
            raise ValueError(f"{len(teacher)} people of teacher maps for {len(self.people)} people")
        missing = [p.image_id for p in self.people if coco.images[p.image_id].path is None]
        if missing:
            raise ValueError(f"{coco.path}: no image folder given, cannot read image id {missing[0]}")
        lower = np.array([any(t in n for t in _LOWER_BODY) for n in self.skeleton.keypoints])
        self._lower, self._upper = np.flatnonzero(lower), np.flatnonzero(~lower)
        names = self.skeleton.keypoints
        self._shoulders = np.array([i for i, n in enumerate(names) if "shoulder" in n], np.intp)
        self._head = np.array([i for i, n in enumerate(names)
                               if not lower[i] and not any(t in n for t in _ARMS + ("shoulder",))], np.intp)

    def __len__(self) -> int:
        return len(self.people)

    def set_epoch(self, epoch: int) -> None:
        """Augmentation randomness depends on (seed, epoch, index): reproducible and resumable."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> dict:
        person = self.people[index]
        info = self.coco.images[person.image_id]
        rng = np.random.default_rng((self.seed, self.epoch, index)) if self.augment else None
        input_w, input_h = self.codec.input_size
        keypoints = person.keypoints[:, :2].astype(np.float32)
        visible = person.keypoints[:, 2].copy()
        bbox = person.bbox
        if self.augment and rng.random() < self.augment.half_body_prob:
            bbox = self._half_body_box(keypoints, visible, rng, bbox)
        elif self.augment and self.augment.portrait_prob and rng.random() < self.augment.portrait_prob:
            bbox = self._portrait_box(keypoints, visible, rng, bbox)
        centre, scale = box_to_centre_scale(bbox, input_w / input_h, self.padding)
        rotation, flip = 0.0, False
        if self.augment:
            a = self.augment
            scale = scale * rng.uniform(1 - a.scale, 1 + a.scale)
            centre = centre + scale * rng.uniform(-a.shift, a.shift, 2)
            if rng.random() < a.rotation_prob:
                rotation = rng.uniform(-a.rotation, a.rotation)
            flip = rng.random() < a.flip_prob
        affine = crop_matrix(centre, scale, rotation, (input_w, input_h), flip)
        image, reduction = read_reduced(info.path, min(scale[0] / input_w, scale[1] / input_h))
        colour = self.augment.colour if self.augment else 0.0
        planes = crop_rgb_planes(image, affine @ reduction, (input_w, input_h), colour, rng)
        if self.augment and self.augment.erase_prob and rng.random() < self.augment.erase_prob:
            erase_rectangle(planes, rng, self.augment.erase_area)
        crop_kps = apply_affine(keypoints, affine)
        if flip:
            crop_kps = crop_kps[self.skeleton.flip_index]
            visible = visible[self.skeleton.flip_index]
        inside = (crop_kps[:, 0] >= 0) & (crop_kps[:, 0] <= input_w - 1) & (crop_kps[:, 1] >= 0) & (crop_kps[:, 1] <= input_h - 1)
        targets = self.codec.encode(crop_kps, (visible > 0) & inside)
        if self.teacher is not None:
            targets = self.teacher.blend(index, targets, affine, flip)
        return {
            "image": torch.from_numpy(planes),
            "heatmaps": torch.from_numpy(targets["heatmaps"]),
            "weights": torch.from_numpy(targets["weights"]),
            "keypoints": torch.from_numpy(crop_kps.astype(np.float32)),
            "visible": torch.from_numpy(visible.astype(np.float32)),
            "affine": torch.from_numpy(affine),
            "image_id": person.image_id,
            "annotation_id": person.id,
            "bbox": torch.from_numpy(person.bbox.astype(np.float32)),
        }

    def _half_body_box(self, keypoints, visible, rng, bbox):
        vis = visible > 0
        if vis.sum() < self.augment.half_body_min_keypoints:
            return bbox
        upper = self._upper[vis[self._upper]]
        lower = self._lower[vis[self._lower]]
        chosen = upper if (rng.random() < 0.5 and len(upper) > 2) or len(lower) < 2 else lower
        if len(chosen) < 2:
            return bbox
        pts = keypoints[chosen]
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        w, h = (x1 - x0) * 1.5, (y1 - y0) * 1.5
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return np.array([cx - w / 2, cy - h / 2, max(w, 2.0), max(h, 2.0)], np.float32)

    def _portrait_box(self, keypoints, visible, rng, bbox):
        """A square box from the head to below the shoulders: the extent of the shoulders and the
        visible head keypoints widened 1.5-2.2x, its top 0-20% of its side above their highest point."""
        vis = visible > 0
        head = self._head[vis[self._head]]
        if len(self._shoulders) < 2 or not vis[self._shoulders].all() or len(head) == 0:
            return bbox
        pts = keypoints[np.concatenate([self._shoulders, head])]
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        side = max(x1 - x0, y1 - y0) * rng.uniform(1.5, 2.2)
        top = y0 - side * rng.uniform(0.0, 0.2)
        return np.array([(x0 + x1 - side) / 2, top, max(side, 2.0), max(side, 2.0)], np.float32)


_REDUCED_FLAGS = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def read_reduced(path, downscale: float) -> tuple[np.ndarray, np.ndarray]:
    """Read a BGR image, decoded at 1/2, 1/4 or 1/8 size when the crop shrinks it at least that much.

    JPEG decoders scale in the DCT domain, which is several times faster than a full
    decode and filters better than the bilinear warp would. ``downscale`` is original
    pixels per crop pixel. Returns the image and the 3x3 affine from reduced to
    original pixels (pixel centres: x = r u + (r - 1) / 2), so that
    ``crop_affine @ reduction`` warps the reduced image.
    """
    r = max([f for f in (2, 4, 8) if f <= downscale], default=1)
    image = cv2.imread(str(path), _REDUCED_FLAGS[r] if r > 1 else cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: image file missing or unreadable")
    offset = (r - 1) / 2
    return image, np.array([[r, 0, offset], [0, r, offset], [0, 0, 1]], np.float32)


def inference_crops(image: np.ndarray, boxes: np.ndarray, input_size: tuple[int, int], padding: float = 1.25):
    """Crop an RGB image (H,W,3) at each xywh box. Returns uint8 crops (N,3,H,W) and affines (N,2,3)."""
    w, h = input_size
    crops, affines = [], []
    for box in boxes:
        centre, scale = box_to_centre_scale(box, w / h, padding)
        m = crop_matrix(centre, scale, 0.0, (w, h))
        crops.append(warp_image(image, m, (w, h)).transpose(2, 0, 1))
        affines.append(m)
    return np.stack(crops) if crops else np.zeros((0, 3, h, w), np.uint8), np.stack(affines) if affines else np.zeros((0, 2, 3), np.float32)
