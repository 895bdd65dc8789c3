"""Shared fixtures: paths to ../shared/data and a tiny drawn COCO dataset for training tests."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.skeletons import LSP14

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(*parts: str) -> Path:
    """A path under ../shared/data, skipping the test with a clear message if absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data beside the checkout)")
    return path


def write_tiny_coco(folder: Path, n_images: int = 24, size: int = 64, seed: int = 0) -> Path:
    """Images with one drawn 'person' each: 14 discs, one colour per joint, joined by lines.

    Returns the annotation path; images sit in ``folder/images``. Learnable in a few dozen steps.
    """
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    colours = (rng.uniform(60, 255, (LSP14.num_keypoints, 3))).astype(int)
    images, annotations = [], []
    for i in range(1, n_images + 1):
        img = np.full((size, size, 3), 30, np.uint8)
        centre = rng.uniform(size * 0.4, size * 0.6, 2)
        kps = centre + rng.normal(0, size * 0.15, (LSP14.num_keypoints, 2))
        kps = np.clip(kps, 4, size - 5)
        for a, b in LSP14.links:
            cv2.line(img, tuple(int(v) for v in kps[a]), tuple(int(v) for v in kps[b]), (90, 90, 90), 1)
        for k, (x, y) in enumerate(kps):
            cv2.circle(img, (int(round(x)), int(round(y))), 2, tuple(int(c) for c in colours[k]), -1)
        cv2.imwrite(str(folder / "images" / f"{i:03d}.png"), img)
        x0, y0 = kps.min(0)
        x1, y1 = kps.max(0)
        images.append({"id": i, "file_name": f"{i:03d}.png", "width": size, "height": size})
        annotations.append({
            "id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "num_keypoints": LSP14.num_keypoints,
            "keypoints": np.concatenate([kps, np.full((LSP14.num_keypoints, 1), 2)], 1).reshape(-1).tolist(),
            "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)], "area": float((x1 - x0) * (y1 - y0)),
        })
    path = folder / "annotations.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [LSP14.to_coco_category()]}))
    return path


@pytest.fixture
def tiny_coco(tmp_path) -> Path:
    return write_tiny_coco(tmp_path / "tiny")
