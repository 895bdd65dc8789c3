"""Contact sheet of rendered scenes: image, keypoints, parts, depth and normals side by side."""
from __future__ import annotations

import cv2
import numpy as np

from ..skeletons import Skeleton
from .parts import PARTS


def part_palette() -> np.ndarray:
    """(len(PARTS), 3) uint8 RGB colours; background black."""
    hues = (np.arange(len(PARTS)) * 0.61803) % 1.0 * 180
    hsv = np.stack([hues, np.full_like(hues, 200), np.full_like(hues, 230)], -1).astype(np.uint8)[None]
    palette = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]
    palette[0] = 0
    return palette


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """RGB image with people's (P, K, 3) keypoints: links between labelled points,
    filled dots for visible (v = 2) and rings for occluded (v = 1) keypoints."""
    out = image.copy()
    for kps in keypoints:
        for (a, b), colour in zip(skeleton.links, skeleton.link_colours()):
            if kps[a, 2] > 0 and kps[b, 2] > 0:
                cv2.line(out, tuple(int(round(c)) for c in kps[a, :2]), tuple(int(round(c)) for c in kps[b, :2]),
                         colour[::-1], 1, cv2.LINE_AA)
        for (x, y, v), colour in zip(kps, skeleton.keypoint_colours()):
            if v > 0:
                cv2.circle(out, (int(round(x)), int(round(y))), 2, colour[::-1], -1 if v == 2 else 1, cv2.LINE_AA)
    return out


def depth_colours(depth: np.ndarray) -> np.ndarray:
    """RGB rendering of a depth map (0 = background, black): near is bright."""
    valid = depth > 0
    if not valid.any():
        return np.zeros(depth.shape + (3,), np.uint8)
    lo, hi = depth[valid].min(), depth[valid].max()
    scaled = np.where(valid, 255 * (hi - depth) / max(hi - lo, 1e-6), 0).astype(np.uint8)
    out = cv2.applyColorMap(scaled, cv2.COLORMAP_TURBO)[..., ::-1]
    out[~valid] = 0
    return out


def normal_colours(normals: np.ndarray) -> np.ndarray:
    """RGB rendering of unit normals: (n + 1) / 2, background black."""
    out = ((normals * 0.5 + 0.5) * 255 + 0.5).astype(np.uint8)
    out[~normals.any(axis=-1)] = 0
    return out


def contact_sheet(samples: list[dict], skeleton: Skeleton) -> np.ndarray:
    """One row per sample: image | keypoints | parts | depth | normals. RGB uint8."""
    palette = part_palette()
    rows = []
    for s in samples:
        rows.append(np.concatenate([
            s["image"], draw_keypoints(s["image"], s["keypoints"], skeleton), palette[s["parts"]],
            depth_colours(s["depth"]), normal_colours(s["normals"]),
        ], axis=1))
    return np.concatenate(rows, axis=0)
