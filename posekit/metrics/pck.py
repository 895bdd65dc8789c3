"""PCK, AUC and end-point error for 2D keypoints (vectorised numpy).

Conventions used throughout:

* A joint is correct when ``||pred - gt|| <= alpha * norm`` (inclusive, so an
  exact prediction is correct even at ``alpha = 0``).
* Only joints with ``mask == True`` count, and only people whose ``norm`` is
  finite and positive; other people are skipped, not scored as wrong.
* The mean PCK is pooled over every counted joint (correct joints / counted
  joints), not the mean of the per-joint values, so joints labelled more often
  weigh more. Per-joint values are NaN where a joint never counts.
* :func:`evaluate_pck` counts visible ground-truth joints only (``v == 2``);
  occluded joints (``v == 1``) have guessed positions in most datasets.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..data.coco import CocoKeypoints
from ..skeletons import Skeleton


def _counted(mask: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """(N, K) bool: masked joints of people with a usable (finite, positive) norm."""
    norm = np.asarray(norm, np.float64)
    usable = np.isfinite(norm) & (norm > 0)
    return np.asarray(mask, bool) & usable[:, None]


def _distances(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N, K) Euclidean distances in pixels between (N, K, 2) arrays."""
    return np.linalg.norm(np.asarray(pred, np.float64)[..., :2] - np.asarray(gt, np.float64)[..., :2], axis=-1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with NaN where den == 0."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)


def pck(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray, alpha: float = 0.2
) -> tuple[np.ndarray, float]:
    """Percentage of correct keypoints.

    Args:
        pred, gt: (N, K, 2) keypoints in pixels.
        mask: (N, K) bool, joints that count.
        norm: (N,) normalising length in pixels (torso or box size).
        alpha: threshold as a fraction of ``norm``.
    Returns:
        per_joint (K,) fraction correct per joint (NaN where it never counts) and
        the pooled mean over all counted joints (NaN if none counts).
    """
    counted = _counted(mask, norm)
    correct = (_distances(pred, gt) <= alpha * np.asarray(norm, np.float64)[:, None]) & counted
    per_joint = _ratio(correct.sum(0), counted.sum(0))
    return per_joint, float(_ratio(correct.sum(), counted.sum()))


def torso_size(gt: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """LSP torso size: distance from ``left_shoulder`` to ``right_hip``.

    Args:
        gt: (N, K, 3) keypoints, x, y in pixels and visibility v.
    Returns:
        (N,) pixels; NaN where either joint is unlabelled (v == 0).
    """
    gt = np.asarray(gt, np.float64)
    a, b = gt[:, skeleton.index("left_shoulder")], gt[:, skeleton.index("right_hip")]
    size = np.linalg.norm(a[:, :2] - b[:, :2], axis=-1)
    return np.where((a[:, 2] > 0) & (b[:, 2] > 0), size, np.nan)


def bbox_size(bbox: np.ndarray) -> np.ndarray:
    """Box size ``max(w, h)`` in pixels for (N, 4) x, y, w, h boxes -> (N,).

    The longer side, so PCK@0.2 tolerates 20% of the person's extent whatever
    their pose (the shorter side shrinks for a lying or crouching person).
    """
    bbox = np.asarray(bbox, np.float64).reshape(-1, 4)
    return np.maximum(bbox[:, 2], bbox[:, 3])


def auc(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray,
    max_alpha: float = 0.5, steps: int = 51,
) -> float:
    """Normalised area under the PCK curve, in [0, 1].

    The mean pooled PCK over ``steps`` thresholds spaced uniformly over
    ``[0, max_alpha]`` (both ends included); shapes as in :func:`pck`.
    """
    counted = _counted(mask, norm)
    alphas = np.linspace(0.0, max_alpha, steps)
    thresholds = alphas[:, None, None] * np.asarray(norm, np.float64)[None, :, None]  # (A, N, 1)
    correct = (_distances(pred, gt)[None] <= thresholds) & counted[None]
    return float(_ratio(correct.sum((1, 2)), counted.sum()).mean())


def epe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """End-point error: mean pixel distance over masked joints (NaN if none).

    Args:
        pred, gt: (N, K, 2) pixels; mask: (N, K) bool.
    """
    mask = np.asarray(mask, bool)
    return float(_ratio(_distances(pred, gt)[mask].sum(), mask.sum()))


def _match(gt: CocoKeypoints, results: list[dict], people: list) -> np.ndarray:
    """Predicted keypoints (N, K, 2) for ``people``; +inf rows for people left unmatched.

    A result carrying ``annotation_id`` goes to that person. The rest are matched
    per image to the people still free there by Hungarian assignment on the mean
    distance over the person's visible joints (labelled joints if none is
    visible). Extra predictions are ignored.
    """
    k = gt.skeleton.num_keypoints
    row = {p.id: n for n, p in enumerate(people)}
    pred = np.full((len(people), k, 2), np.inf)
    taken = np.zeros(len(people), bool)
    by_image: dict[int, list[np.ndarray]] = {}
    for i, r in enumerate(results):
        kps = np.asarray(r["keypoints"], np.float64)
        if kps.size != 3 * k:
            raise ValueError(f"result #{i}: keypoints must hold {3 * k} numbers, got {kps.size}")
        if not np.isfinite(kps).all():
            raise ValueError(f"result #{i}: keypoints contain NaN or inf")
        kps = kps.reshape(k, 3)[:, :2]
        if "annotation_id" not in r:
            by_image.setdefault(r["image_id"], []).append(kps)
            continue
        n = row.get(r["annotation_id"])
        if n is None:
            continue  # not a scored person (crowd, no keypoints, unknown): an extra prediction
        if taken[n]:
            raise ValueError(f"result #{i}: annotation_id {r['annotation_id']} is claimed by two results")
        pred[n], taken[n] = kps, True

    free_by_image: dict[int, list[int]] = {}
    for n, p in enumerate(people):
        if not taken[n]:
            free_by_image.setdefault(p.image_id, []).append(n)
    for image_id, rows in free_by_image.items():
        cands = by_image.get(image_id)
        if not cands:
            continue
        g = np.stack([people[n].keypoints for n in rows])  # (G, K, 3)
        use = g[..., 2] == 2
        use = np.where(use.any(1, keepdims=True), use, g[..., 2] > 0)
        dist = _distances(np.stack(cands)[None], g[:, None, :, :2])  # (G, P, K)
        cost = (dist * use[:, None]).sum(-1) / use.sum(-1, keepdims=True)
        gi, pi = linear_sum_assignment(cost)
        for a, b in zip(gi, pi):
            pred[rows[a]] = cands[b]
    return pred


def evaluate_pck(gt: CocoKeypoints, results: list[dict], alpha: float = 0.2) -> dict:
    """PCK (torso and box normalised), AUC and EPE of COCO-format results.

    Scores ``gt.trainable_people()`` on their visible joints (v == 2). Results are
    COCO keypoint results (``image_id``, ``keypoints`` flat x, y, score). A result
    with ``annotation_id`` scores that person; the others are matched per image
    by Hungarian assignment on mean joint distance, extra ones ignored. An
    unmatched person counts as all joints wrong; EPE is over matched people
    only (pixels). People without a torso (either joint unlabelled) are left
    out of the torso-normalised PCK and AUC and counted in ``num_skipped_torso``.
    Fractions in [0, 1]; NaN when nothing counts.
    """
    people = gt.trainable_people()
    k = gt.skeleton.num_keypoints
    kps = np.stack([p.keypoints for p in people]) if people else np.zeros((0, k, 3))
    boxes = np.stack([p.bbox for p in people]) if people else np.zeros((0, 4))
    mask = kps[..., 2] == 2
    pred = _match(gt, results, people)
    matched = np.isfinite(pred[:, 0, 0])
    torso = torso_size(kps, gt.skeleton)

    per_joint, torso_pck = pck(pred, kps, mask, torso, alpha)
    _, box_pck = pck(pred, kps, mask, bbox_size(boxes), alpha)
    return {
        f"PCK@{alpha:g}": torso_pck,
        f"PCK@{alpha:g}_bbox": box_pck,
        "AUC": auc(pred, kps, mask, torso),
        "EPE": epe(pred[matched], kps[matched], mask[matched]),
        "per_joint": {name: float(v) for name, v in zip(gt.skeleton.keypoints, per_joint)},
        "num_people": len(people),
        "num_joints": int(mask.sum()),
        "num_unmatched_gt": int((~matched).sum()),
        "num_skipped_torso": int((~(np.isfinite(torso) & (torso > 0))).sum()),
    }
