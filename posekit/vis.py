"""Drawing: skeletons coloured by side (left orange, right blue, centre green), heatmaps."""
from __future__ import annotations

import cv2
import numpy as np

from .skeletons import Skeleton


def draw_pose(image_rgb: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, skeleton: Skeleton,
              threshold: float = 0.2, show_scores: bool = True, box=None) -> np.ndarray:
    """Draw one person on a copy of an RGB image.

    keypoints (K,2) pixels, scores (K,) (drawn when >= threshold; for ground truth pass visibility).
    Bones are coloured by side; each joint gets its score written beside it.
    """
    out = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    size = max(out.shape[:2])
    thick = max(1, round(size / 300))
    radius = max(2, round(size / 150))
    font = max(0.3, size / 1600)
    if box is not None:
        x, y, w, h = (int(round(v)) for v in box)
        cv2.rectangle(out, (x, y), (x + w, y + h), (200, 200, 200), thick)
    pts = np.round(keypoints).astype(int)
    for (a, b), colour in zip(skeleton.links, skeleton.link_colours()):
        if scores[a] >= threshold and scores[b] >= threshold:
            cv2.line(out, tuple(pts[a]), tuple(pts[b]), colour, thick + 1, cv2.LINE_AA)
    for i, colour in enumerate(skeleton.keypoint_colours()):
        if scores[i] >= threshold:
            cv2.circle(out, tuple(pts[i]), radius, colour, -1, cv2.LINE_AA)
            cv2.circle(out, tuple(pts[i]), radius, (0, 0, 0), 1, cv2.LINE_AA)
            if show_scores:
                cv2.putText(out, f"{scores[i]:.2f}", (pts[i][0] + radius + 1, pts[i][1] - radius),
                            cv2.FONT_HERSHEY_SIMPLEX, font, colour, 1, cv2.LINE_AA)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def heatmap_overlay(crop_rgb: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Max over keypoint heatmaps (K,h,w), colour-mapped and blended onto the crop (H,W,3)."""
    h, w = crop_rgb.shape[:2]
    peak = np.clip(heatmaps.max(0), 0, 1)
    peak = cv2.resize((peak * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.cvtColor(cv2.applyColorMap(peak, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(crop_rgb, 0.5, colour, 0.5, 0)


def save_rgb(path, image_rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write image")
