"""COCO keypoint AP / AR (object keypoint similarity) through pycocotools itself.

Works for any skeleton: the OKS sigmas come from ``gt.skeleton``. The
pycocotools ground truth is built in memory from the validated records of a
:class:`~posekit.data.coco.CocoKeypoints` (not from ``gt.raw``, which can be
empty for a dataset built in code and may lack ``area`` or ``num_keypoints``,
both of which COCOeval reads).
"""
from __future__ import annotations

import contextlib
import io

import numpy as np

from ..data.coco import CocoKeypoints

STATS = ("AP", "AP50", "AP75", "APm", "APl", "AR")  # the first six COCOeval keypoint stats


def oks(pred: np.ndarray, gt: np.ndarray, area: float, sigmas) -> float:
    """Object keypoint similarity of one prediction to one person, as COCOeval computes it.

    ``OKS = mean over labelled joints i of exp(-d_i^2 / (2 * area * (2 * sigma_i)^2))``.

    Args:
        pred: (K, 2) or (K, 3) predicted keypoints in pixels (a score column is ignored).
        gt: (K, 3) ground truth x, y in pixels and visibility v; joints with v > 0 count.
        area: person area in pixels^2 (the COCO ``area``, the scale s^2).
        sigmas: (K,) per-keypoint OKS sigmas.
    Returns:
        OKS in [0, 1]; NaN when the person has no labelled joint.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    labelled = gt[:, 2] > 0
    if not labelled.any():
        return float("nan")
    d2 = ((pred[:, :2] - gt[:, :2]) ** 2).sum(-1)
    e = d2 / (2 * (area + np.spacing(1)) * (2 * np.asarray(sigmas, np.float64)) ** 2)
    return float(np.exp(-e[labelled]).mean())


def _coco_dataset(gt: CocoKeypoints) -> dict:
    """A pycocotools ground-truth dict from the validated images and people."""
    return {
        "images": [
            {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height}
            for im in gt.images.values()
        ],
        "categories": [gt.skeleton.to_coco_category(gt.category_id)],
        "annotations": [
            {
                "id": p.id,
                "image_id": p.image_id,
                "category_id": gt.category_id,
                "bbox": [float(v) for v in p.bbox],
                "keypoints": p.keypoints.reshape(-1).tolist(),
                "area": float(p.area),
                "iscrowd": int(p.iscrowd),
                "num_keypoints": p.num_keypoints,
            }
            for p in gt.people
        ],
    }


def _coco_results(gt: CocoKeypoints, results: list[dict]) -> list[dict]:
    """Checked copies of the results holding only what COCOeval needs.

    Every result is scored as a person of ``gt.category_id`` whatever its own
    ``category_id`` (results files often default it to 1).
    """
    k = gt.skeleton.num_keypoints
    out = []
    for i, r in enumerate(results):
        for key in ("image_id", "keypoints", "score"):
            if key not in r:
                raise ValueError(f"result #{i}: missing key {key!r}")
        if r["image_id"] not in gt.images:
            raise ValueError(f"result #{i}: image_id {r['image_id']!r} is not in the ground truth")
        kps = np.asarray(r["keypoints"], np.float64).reshape(-1)
        if kps.size != 3 * k:
            raise ValueError(f"result #{i}: keypoints must hold {3 * k} numbers for {gt.skeleton.name}, got {kps.size}")
        if not np.isfinite(kps).all() or not np.isfinite(r["score"]):
            raise ValueError(f"result #{i}: keypoints or score contain NaN or inf")
        out.append({"image_id": r["image_id"], "category_id": gt.category_id,
                    "keypoints": kps.tolist(), "score": float(r["score"])})
    return out


def evaluate_coco(gt: CocoKeypoints, results: list[dict]) -> dict:
    """COCO keypoint AP/AR of results against ``gt``.

    Args:
        gt: validated ground truth (any skeleton).
        results: COCO keypoint results ``{image_id, keypoints (3K flat), score}``.
    Returns:
        ``AP, AP50, AP75, APm, APl, AR`` as fractions in [0, 1] (AP averaged over
        OKS 0.50:0.95, AR at 20 detections). All zeros for empty results; NaN
        where COCOeval reports -1 (no ground truth in that area range).
    """
    if not results:
        return {name: 0.0 for name in STATS}
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    dets = _coco_results(gt, results)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = _coco_dataset(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.params.kpt_oks_sigmas = np.array(gt.skeleton.sigmas)
        ev.params.catIds = [gt.category_id]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: (float(v) if v >= 0 else float("nan")) for name, v in zip(STATS, ev.stats)}
