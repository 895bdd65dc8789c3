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


def cpm_loss(outputs: list[torch.Tensor], target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Convolutional Pose Machines (Wei et al. CVPR 2016, eqs. 4-5): at every stage t the
    squared L2 distance between predicted and ideal belief maps, summed over the P+1 maps
    and all pixels z, then summed over the T stages (intermediate supervision):

        f_t = sum_{p=1}^{P+1} sum_z w_bp^2 ||b_p^t(z) - b*_p(z)||^2,      F = 1/B sum_b sum_{t=1}^{T} f_t

    outputs: T tensors (B,P+1,h,w); target (B,P+1,h,w) from BeliefMapCodec; weights
    (B,P+1), 0 for unlabelled parts (the background's is 1); w multiplies both maps as
    in :func:`keypoint_mse`, hence w^2. The paper does not normalise; dividing by the
    batch size B only keeps its weighting of pixels, parts and stages and makes the
    value independent of the batch size. It is (P+1)*h*w times a per-pixel mean:
    Adam(W) does not mind, a plain-SGD learning rate must be that much smaller.
    """
    w2 = (weights**2)[:, :, None, None]
    return sum(((b - target) ** 2 * w2).sum() for b in outputs) / target.shape[0]


def ohkm_top_k(num_keypoints: int) -> int:
    """CPN's number of hard keypoints, scaled to the skeleton: M = round(8 K / 17) (8 of COCO's 17)."""
    return max(1, round(8 * num_keypoints / 17))


def ohkm_mse(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, top_k: int | None = None) -> torch.Tensor:
    """Heatmap L2 with online hard keypoint mining (CPN, Chen et al. CVPR 2018):

        l_bk = w_bk^2 * mean_z (y_bk(z) - yhat_bk(z))^2
        L_ohkm = 1/(B M) sum_b sum_{k in H_b} l_bk

    H_b holds the M = ``top_k`` keypoints of instance b with the largest l_bk among its
    labelled ones (w_bk > 0; fewer than M if fewer are labelled). Only they get
    gradient. pred, target (B,K,h,w); weights (B,K). ``top_k`` defaults to
    :func:`ohkm_top_k` (K).
    """
    b, k = weights.shape
    m = ohkm_top_k(k) if top_k is None else top_k
    if not 1 <= m <= k:
        raise ValueError(f"top_k must be in [1, {k}], got {m}")
    per_keypoint = ((pred - target) ** 2).flatten(2).mean(-1) * weights**2
    labelled = weights > 0
    hardest = per_keypoint.detach().masked_fill(~labelled, float("-inf")).topk(m, dim=1).indices
    chosen = per_keypoint.gather(1, hardest) * labelled.gather(1, hardest)
    return chosen.sum() / (b * m)


def cpn_loss(outputs: list[torch.Tensor], target: torch.Tensor, weights: torch.Tensor,
             top_k: int | None = None) -> torch.Tensor:
    """CPN's loss: L2 on every GlobalNet output, L2 with hard keypoint mining on RefineNet's:

        L = sum_{l=1}^{L} L_pose(G_l) + L_ohkm(R),      outputs = [G_1, ..., G_L, R]

    with L_pose = :func:`keypoint_mse` and L_ohkm = :func:`ohkm_mse` (M = ``top_k``),
    all against the same target (B,K,h,w) and weights (B,K).
    """
    *global_heatmaps, refined = outputs
    return sum(keypoint_mse(g, target, weights) for g in global_heatmaps) + ohkm_mse(refined, target, weights, top_k)


def openpose_loss(outputs: dict, targets: dict, heatmap_weight: float = 1.0) -> torch.Tensor:
    """OpenPose intermediate supervision (Cao et al., TPAMI 2019), summed over stages:

        f_L^t = sum_c sum_p W(p) ||L^t_c(p) - L*_c(p)||^2,    f_S^t = sum_j sum_p W(p) ||S^t_j(p) - S*_j(p)||^2
        f = 1/B sum_b ( sum_{t=1}^{T_P} f_L^t + lambda sum_{t=1}^{T_C} f_S^t )

    outputs: ``pafs`` T_P tensors (B,2C,h,w), ``heatmaps`` T_C tensors (B,K,h,w);
    targets: ``pafs`` (B,2C,h,w), ``heatmaps`` (B,K,h,w), ``mask`` (B,h,w) W(p) in {0,1}
    from :class:`~posekit.codecs.paf.PAFCodec`. As in the paper, errors are summed over
    channels and pixels; dividing by the batch size B only makes the value independent
    of it. Adam(W) does not mind the scale; a plain-SGD learning rate must be smaller.
    ``heatmap_weight`` is lambda (the paper: 1). The PAF terms carry most of the target
    energy (a limb covers many more pixels than a small Gaussian, and there are more
    PAF stages), so with lambda = 1 they dominate the gradient of the shared features.
    """
    mask = targets["mask"][:, None]
    pafs = sum((mask * (L - targets["pafs"]) ** 2).sum() for L in outputs["pafs"])
    maps = sum((mask * (S - targets["heatmaps"]) ** 2).sum() for S in outputs["heatmaps"])
    return (pafs + heatmap_weight * maps) / mask.shape[0]


def keypoint_mse_lr_latent(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, flip_index) -> torch.Tensor:
    """Heatmap MSE with a latent left/right choice per instance, for annotations that swap sides.

    Johnson & Everingham ("Learning Effective Human Pose Estimation from Inaccurate
    Annotation", CVPR 2011) collected LSPET from Mechanical Turk, where a common error is
    labelling left and right from the annotator's viewpoint; their latent annotation
    update picks, per instance, the reading of the label the current model explains
    best. Here, with swap(.) exchanging left and right channels (``flip_index``):

        l_b(y) = 1/K sum_k w_bk^2 * mean_z (y_bk(z) - yhat_bk(z))^2
        L = 1/B sum_b min( l_b(y), l_b(swap(y)) )

    pred, target (B,K,h,w); weights (B,K). Equals :func:`keypoint_mse` when no swap helps.
    """
    index = torch.as_tensor(flip_index, device=target.device, dtype=torch.long)
    as_given = (((pred - target) ** 2).flatten(2).mean(-1) * weights**2).mean(1)
    swapped = (((pred - target[:, index]) ** 2).flatten(2).mean(-1) * weights[:, index] ** 2).mean(1)
    return torch.minimum(as_given, swapped).mean()
