"""Losses. Each docstring writes the formula it computes."""
from __future__ import annotations

import torch


def keypoint_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Heatmap loss of SimpleBaseline / ViTPose:

        L_pose = 1/(B K) sum_b sum_k w_bk^2 * mean_z (y_bk(z) - yhat_bk(z))^2

    pred, target (B,K,h,w); weights (B,K) (0 for unlabelled keypoints). MMPose's
    KeypointMSELoss with use_target_weight multiplies both maps by w, hence w^2.
    """
    diff = (pred - target) ** 2
    per_keypoint = diff.flatten(2).mean(-1)
    return (per_keypoint * weights**2).mean()
