"""Geometry of the top-down pipeline: box -> centre/scale -> affine crop, with UDP.

Conventions (Huang et al., "The Devil is in the Details: Delving into Unbiased
Data Processing for Human Pose Estimation", CVPR 2020):
- pixel centres sit at integer coordinates, so an image of width W spans
  [-0.5, W-0.5] and its horizontal mirror maps x -> (W-1) - x;
- a crop of ``scale = (sw, sh)`` pixels around ``centre`` is mapped onto an
  output of (W, H) pixels so that the centre lands on ((W-1)/2, (H-1)/2) and
  the box's width spans W-1 output pixel steps (unit-length measured between
  pixel centres, which is what keeps flip and resize unbiased).
"""
from __future__ import annotations

import math

import cv2
import numpy as np


def box_to_centre_scale(bbox, aspect_ratio: float, padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """xywh box -> centre (2,) and scale (2,) in pixels, expanded to ``aspect_ratio`` = w/h, times ``padding``."""
    x, y, w, h = (float(v) for v in bbox)
    centre = np.array([x + w * 0.5, y + h * 0.5], np.float32)
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return centre, np.array([w * padding, h * padding], np.float32)


def crop_matrix(centre, scale, rotation_deg: float, output_size: tuple[int, int], flip: bool = False) -> np.ndarray:
    """2x3 affine mapping image pixels into a crop of ``output_size`` = (W, H).

    ``rotation_deg`` rotates the content counter-clockwise around the centre;
    ``flip`` mirrors the crop horizontally (x -> W-1-x in crop pixels).
    """
    out_w, out_h = output_size
    sx = (out_w - 1) / float(scale[0])
    sy = (out_h - 1) / float(scale[1])
    a = math.radians(rotation_deg)
    cos, sin = math.cos(a), math.sin(a)
    # rotate (in image y-down coordinates, counter-clockwise on screen), then scale
    linear = np.array([[sx * cos, sx * sin], [-sy * sin, sy * cos]], np.float64)
    if flip:
        linear[0] *= -1
    out_centre = np.array([(out_w - 1) * 0.5, (out_h - 1) * 0.5])
    t = out_centre - linear @ np.asarray(centre, np.float64)
    return np.concatenate([linear, t[:, None]], 1).astype(np.float32)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine (or a batch (B,2,3))."""
    m = np.asarray(m, np.float64)
    linear, t = m[..., :2], m[..., 2:]
    inv = np.linalg.inv(linear)
    return np.concatenate([inv, -inv @ t], -1).astype(np.float32)


def apply_affine(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """points (..., K, 2) through a 2x3 affine (or (..., 2, 3) batch) -> (..., K, 2)."""
    m = np.asarray(m)
    return points @ np.swapaxes(m[..., :2], -1, -2) + m[..., None, :, 2]


def warp_image(image: np.ndarray, m: np.ndarray, output_size: tuple[int, int]) -> np.ndarray:
    """Crop (H,W,3) ``image`` with the 2x3 affine ``m`` into ``output_size`` = (W, H); bilinear, zero border."""
    return cv2.warpAffine(image, m, output_size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def colour_jitter(bgr: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Random saturation s, contrast c and brightness b, each a factor in [1-strength, 1+strength].

    out = b (c (s x + (1-s) g) + (1-c) mean(g)) for pixel x and its grey level g: one
    ``addWeighted`` pass over uint8 (H,W,3) BGR, saturated to 0..255 at the end.
    """
    b, c, s = rng.uniform(1 - strength, 1 + strength, 3)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    gain = c * b
    return cv2.addWeighted(bgr, gain * s, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), gain * (1 - s),
                           (1 - c) * b * cv2.mean(grey)[0])


def bgr_to_rgb_planes(bgr: np.ndarray) -> np.ndarray:
    """(H,W,3) BGR uint8 -> (3,H,W) RGB uint8 in one pass (cv2.split into the output planes)."""
    planes = np.empty((3,) + bgr.shape[:2], bgr.dtype)
    cv2.split(bgr, [planes[2], planes[1], planes[0]])
    return planes
