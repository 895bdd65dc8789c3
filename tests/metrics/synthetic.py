"""Synthetic COCO keypoint data shared by the metric tests."""
from pathlib import Path

import numpy as np

from posekit.skeletons import Skeleton

COCO_MINI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coco_mini"


def make_coco(skeleton: Skeleton, people: list[tuple[int, np.ndarray]], category_id: int = 1) -> dict:
    """A COCO keypoint dict from ``(image_id, keypoints (K, 3))`` pairs.

    Boxes are tight around the labelled joints; ``area`` is the box area.
    """
    images = {image_id: {"id": image_id, "file_name": f"{image_id:06d}.jpg", "width": 640, "height": 480}
              for image_id, _ in people}
    anns = []
    for image_id, kps in people:
        kps = np.asarray(kps, np.float64)
        xy = kps[kps[:, 2] > 0, :2]
        (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
        anns.append({
            "id": 100 + len(anns), "image_id": image_id, "category_id": category_id,
            "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
            "iscrowd": 0, "num_keypoints": int((kps[:, 2] > 0).sum()), "keypoints": kps.ravel().tolist(),
        })
    categories = [skeleton.to_coco_category(category_id)]
    return {"images": list(images.values()), "annotations": anns, "categories": categories}


def synthetic_coco(skeleton: Skeleton, people_per_image=(2, 1, 3), seed: int = 0, category_id: int = 1) -> dict:
    """Random people, all joints visible; their spread varies so medium and large COCO areas occur."""
    rng = np.random.default_rng(seed)
    k = skeleton.num_keypoints
    people = []
    for image_id, n in enumerate(people_per_image, start=1):
        for _ in range(n):
            xy = rng.uniform([120, 120], [520, 360]) + rng.normal(0, rng.uniform(10, 50), (k, 2))
            people.append((image_id, np.c_[xy, np.full(k, 2.0)]))
    return make_coco(skeleton, people, category_id)


def gt_as_results(gt, score: float = 1.0) -> list[dict]:
    """COCO results that repeat the ground truth of every trainable person."""
    return [{"image_id": p.image_id, "keypoints": p.keypoints.ravel().tolist(), "score": score}
            for p in gt.trainable_people()]
