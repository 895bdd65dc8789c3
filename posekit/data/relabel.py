"""Correcting left/right swaps in crowd-sourced keypoint labels.

LSPET's annotations come from Mechanical Turk; Johnson & Everingham (CVPR 2011),
who collected them, found that many annotators label a frontal person's sides from
their own point of view (observer-centric), so the whole person's left and right
joints are exchanged. Training on a mixture of both conventions teaches a model
both. The fix here follows their idea of correcting annotations with a model: a
trained network predicts each training person (:func:`side_swap_gain`), and
``benchmarks/clean_lsp_sides.py --margin M`` relabels (:func:`swap_sides`) those whose
side-swapped label agrees with the prediction at M or more joints more than the label
as given. Only training labels are ever changed. Measured on LSPET it did not change
accuracy (docs/BENCHMARKS.md); it does measure the noise.
"""
from __future__ import annotations

import copy

import numpy as np

from ..metrics.pck import torso_size
from ..skeletons import Skeleton


def side_swap_gain(pred: np.ndarray, gt: np.ndarray, skeleton: Skeleton, alpha: float = 0.2) -> np.ndarray:
    """Joints a side-swapped label gets right minus those the label as given gets right.

    Args:
        pred: (N, K, 2) predicted keypoints in pixels.
        gt: (N, K, 3) labels, x, y and COCO visibility; only visible joints (v == 2) count.
        alpha: PCK threshold as a fraction of the torso (``left_shoulder`` to ``right_hip``).
    Returns:
        (N,) int; 0 for people without a torso (they are never relabelled).
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    torso = torso_size(gt, skeleton)
    swapped = gt[:, skeleton.flip_index]
    with np.errstate(invalid="ignore"):  # NaN torso: nothing is correct

        def correct(label):
            near = np.linalg.norm(pred - label[..., :2], axis=-1) <= alpha * torso[:, None]
            return (near & (label[..., 2] == 2)).sum(1)

        gain = correct(swapped) - correct(gt)
    return np.where(np.isfinite(torso), gain, 0).astype(int)


def swap_sides(data: dict, annotation_ids, skeleton: Skeleton) -> dict:
    """A copy of a COCO keypoint dict whose listed annotations have left and right joints exchanged.

    Raises ``KeyError`` naming any id that is not an annotation of ``data``.
    """
    wanted = set(int(i) for i in annotation_ids)
    missing = wanted - {a["id"] for a in data["annotations"]}
    if missing:
        raise KeyError(f"annotation ids not in the data: {sorted(missing)[:10]}")
    out = copy.deepcopy(data)
    for ann in out["annotations"]:
        if ann["id"] in wanted:
            kps = np.asarray(ann["keypoints"], np.float64).reshape(-1, 3)[skeleton.flip_index]
            ann["keypoints"] = [round(float(t), 3) for t in kps.reshape(-1)]
    return out
