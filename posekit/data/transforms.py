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


# ITU-R BT.601 luma weights of R, G, B (what cv2.COLOR_RGB2GRAY uses)
_LUMA_RGB = np.array([0.299, 0.587, 0.114])


def colour_matrix(strength: float, rng: np.random.Generator, mean_rgb) -> np.ndarray:
    """Random saturation s, contrast c and brightness b (factors in [1-strength, 1+strength]) as one affine map.

    out = b (c (s x + (1-s) g) + (1-c) mean(g)) for an RGB pixel x, its grey level
    g = luma . x and the image's mean grey level; ``mean_rgb`` (3,) is the image's mean
    colour, so mean(g) = luma . mean_rgb. Returns (3,4) float32 [A | t] with out = A x + t,
    the form ``cv2.transform`` applies (saturating to uint8).
    """
    b, c, s = rng.uniform(1 - strength, 1 + strength, 3)
    linear = b * c * (s * np.eye(3) + (1 - s) * np.outer(np.ones(3), _LUMA_RGB))
    offset = b * (1 - c) * float(_LUMA_RGB @ np.asarray(mean_rgb, np.float64)[:3])
    return np.concatenate([linear, np.full((3, 1), offset)], 1).astype(np.float32)


def source_region(m: np.ndarray, output_size: tuple[int, int], image_shape) -> tuple[int, int, int, int]:
    """Pixel bounds (x0, y0, x1, y1), end-exclusive and clipped to the image, that a bilinear warp
    with the image->crop affine ``m`` reads (the inverse images of the crop's corners, plus a pixel)."""
    w, h = output_size
    inverse = cv2.invertAffineTransform(np.asarray(m, np.float64))
    corners = np.array([[0, w - 1, 0, w - 1], [0, 0, h - 1, h - 1], [1, 1, 1, 1]], np.float64)
    xs, ys = inverse @ corners
    x0, y0 = math.floor(xs.min()) - 1, math.floor(ys.min()) - 1
    x1, y1 = math.floor(xs.max()) + 3, math.floor(ys.max()) + 3
    height, width = image_shape[:2]
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def crop_rgb_planes(bgr: np.ndarray, m: np.ndarray, output_size: tuple[int, int], colour: float = 0.0,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """Affine crop of a BGR uint8 image (H,W,3) straight to RGB planes (3,h,w) uint8, bilinear, zero border.

    The training-sample path: only the region the crop reads is widened to 4 channels,
    because OpenCV's 4-channel bilinear warp is about twice as fast as its 3-channel
    one. ``colour`` > 0 applies :func:`colour_matrix` (drawn from ``rng``) with one
    ``cv2.transform``. Equal to :func:`warp_image` + channel swap up to OpenCV's
    1/32-pixel rounding of the shifted coordinates.
    """
    w, h = output_size
    x0, y0, x1, y1 = source_region(m, output_size, bgr.shape)
    planes = np.zeros((3, h, w), np.uint8)
    if x1 <= x0 or y1 <= y0:  # the crop lies entirely outside the image
        return planes
    shifted = np.asarray(m, np.float64).copy()
    shifted[:, 2] += shifted[:, :2] @ np.array([x0, y0], np.float64)
    bgra = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2BGRA)
    crop = cv2.warpAffine(bgra, shifted.astype(np.float32), output_size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGRA2RGB)
    if colour > 0:
        rgb = cv2.transform(rgb, colour_matrix(colour, rng, cv2.mean(rgb)))
    cv2.split(rgb, [planes[0], planes[1], planes[2]])
    return planes


def erase_rectangle(planes: np.ndarray, rng: np.random.Generator, max_area: float = 0.2) -> tuple[int, int, int, int]:
    """Random erasing, in place: one rectangle of uniform uint8 noise on RGB planes (3,h,w).

    Its area is uniform in [0.02, ``max_area``] of the crop and its aspect ratio log-uniform in
    [0.3, 1/0.3] (Zhong et al., "Random Erasing Data Augmentation", AAAI 2020), clipped to the crop.
    Returns the rectangle as (x, y, width, height) in crop pixels.
    """
    _, h, w = planes.shape
    area = rng.uniform(0.02, max_area) * h * w
    aspect = math.exp(rng.uniform(math.log(0.3), -math.log(0.3)))
    eh = max(1, min(h, round(math.sqrt(area * aspect))))
    ew = max(1, min(w, round(math.sqrt(area / aspect))))
    y, x = int(rng.integers(0, h - eh + 1)), int(rng.integers(0, w - ew + 1))
    planes[:, y:y + eh, x:x + ew] = rng.integers(0, 256, (3, eh, ew), dtype=np.uint8)
    return x, y, ew, eh
