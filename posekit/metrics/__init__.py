"""Keypoint metrics: COCO OKS AP/AR (pycocotools) and PCK / AUC / EPE."""
from __future__ import annotations

from numbers import Integral, Real

from ..data.coco import CocoKeypoints
from .coco import evaluate_coco, oks
from .pck import auc, bbox_size, epe, evaluate_pck, pck, torso_size

__all__ = [
    "evaluate", "format_table",
    "evaluate_coco", "oks",
    "evaluate_pck", "pck", "auc", "epe", "torso_size", "bbox_size",
]


def evaluate(gt: CocoKeypoints, results: list[dict], metric: str) -> dict:
    """Score COCO keypoint results with ``metric``: ``'pck'`` or ``'coco'``."""
    if metric == "pck":
        return evaluate_pck(gt, results)
    if metric == "coco":
        return evaluate_coco(gt, results)
    raise ValueError(f"unknown metric {metric!r}; choose 'pck' or 'coco'")


def _cell(value) -> str:
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    return f"{value:.4f}"


def format_table(metrics: dict) -> str:
    """A two-column text table of the scalar entries of ``metrics``.

    Nested dicts (``per_joint``) follow as a second block headed by their key;
    other non-scalar entries are left out. Floats print with 4 decimals.
    """
    scalars = {k: v for k, v in metrics.items() if isinstance(v, (Real, str))}
    blocks = [("metric", scalars)] + [(k, v) for k, v in metrics.items() if isinstance(v, dict)]
    width = max(len(str(k)) for title, rows in blocks for k in (title, *rows))
    lines = []
    for title, rows in blocks:
        if not rows:
            continue
        if lines:
            lines.append("")
        header = f"{title:<{width}}  value"
        lines += [header, "-" * len(header)]
        lines += [f"{str(k):<{width}}  {_cell(v)}" for k, v in rows.items()]
    return "\n".join(lines)
