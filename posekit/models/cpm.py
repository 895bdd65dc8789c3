"""Convolutional Pose Machines (Wei, Ramakrishna, Kanade, Sheikh, CVPR 2016).

A sequence of T stages, each predicting P+1 belief maps (P parts + background):

- stage 1 sees only local image evidence: a small convolutional trunk of
  ``trunk_kernel`` convolutions and max-pooling, one more ``trunk_kernel`` conv
  (to 4 x width) and two 1x1 layers to P+1 maps;
- stages t >= 2 see the image features x' (one module whose weights are shared
  by every stage t >= 2, as in the paper) concatenated with the previous stage's
  belief maps (the context psi_t) and a Gaussian centre map; three stacked
  ``stage_kernel`` x ``stage_kernel`` convolutions grow the receptive field without
  further pooling, two 1x1 layers give the new P+1 belief maps.

Since x' has the same weights and the same input in every stage t >= 2, it is
computed once per forward and handed to each stage: the function is the paper's,
the cost is one x' instead of T-1.

The centre map is a Gaussian at the crop centre (std ``centre_sigma`` times the
crop's shorter side; the paper's 21 px for 368 px crops) average-pooled to the
feature resolution, as the paper's ``pool_center_lower`` layer does; the pooling
bins do not overlap (the paper's are 9x9 with stride 8), which keeps the pooled map
mirror-symmetric, so a flipped crop sees the same centre map. A top-down
crop puts its person at the centre, so the model builds the map itself from the
input size and ``forward`` takes only images.

Output stride is ``stride`` = 2**(number of pooling layers): 8 as in the paper
(368 -> 46; 128 -> 16), or 4 (128 -> 32, the resolution of posekit's other LSP
recipes). Use a :class:`~posekit.codecs.heatmap.BeliefMapCodec` with
``heatmap_size = input_size / stride`` (rounded up). Loss: ``posekit.losses.cpm_loss``.

The paper's network has no BatchNorm (``cpm_paper``); ``cpm_small`` adds it after
every convolution (as MMPose's CPM does), which lets a narrow 3-stage model train
in a few CPU epochs.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ConvReLU(nn.Sequential):
    """k x k convolution ('same' padding), optional BatchNorm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, batch_norm: bool):
        layers = [nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class Trunk(nn.Sequential):
    """Three ``kernel`` x ``kernel`` ConvReLU layers with a 3x3/2 max-pool after each of
    the first log2(stride) of them, then a 5x5 ConvReLU to ``out_channels``.

    (B,3,H,W) -> (B,out_channels,ceil(H/stride),ceil(W/stride)). The paper's stage-1
    trunk and its x' are both this module (kernel 9, width 128, stride 8, 32 outputs for x').
    """

    def __init__(self, width: int, out_channels: int, kernel: int, stride: int, batch_norm: bool):
        pools = int(math.log2(stride))
        if 2**pools != stride or not 1 <= pools <= 3:
            raise ValueError(f"stride must be 2, 4 or 8, got {stride}")
        layers, in_channels = [], 3
        for i in range(3):
            layers.append(ConvReLU(in_channels, width, kernel, batch_norm))
            if i < pools:
                layers.append(nn.MaxPool2d(3, 2, 1))
            in_channels = width
        layers.append(ConvReLU(width, out_channels, 5, batch_norm))
        super().__init__(*layers)


class BeliefHead(nn.Sequential):
    """Stacked large-kernel ConvReLU layers, a 1x1 ConvReLU, and a 1x1 conv to the belief maps.

    (B,in_channels,h,w) -> (B,num_maps,h,w). The last conv is initialised N(0, 0.001).
    """

    def __init__(self, in_channels: int, channels: int, hidden: int, num_maps: int,
                 kernel: int, num_large: int, batch_norm: bool):
        layers = []
        for _ in range(num_large):
            layers.append(ConvReLU(in_channels, channels, kernel, batch_norm))
            in_channels = channels
        layers += [ConvReLU(channels, hidden, 1, batch_norm), nn.Conv2d(hidden, num_maps, 1)]
        super().__init__(*layers)


class CPMStage(nn.Module):
    """Stage t >= 2: [x' (B,C',h,w), b^{t-1} (B,P+1,h,w), centre (B,1,h,w)] -> b^t (B,P+1,h,w)."""

    def __init__(self, feature_channels: int, num_maps: int, channels: int, kernel: int, batch_norm: bool):
        super().__init__()
        self.head = BeliefHead(feature_channels + num_maps + 1, channels, channels, num_maps,
                               kernel, num_large=3, batch_norm=batch_norm)

    def forward(self, features: torch.Tensor, beliefs: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([features, beliefs, centre], 1))


class CPM(nn.Module):
    """Convolutional Pose Machine: images (B,3,H,W) -> [b^1, ..., b^T], each (B,P+1,H/s,W/s).

    Args:
        num_keypoints: P; the model predicts P+1 maps (the last is the background).
        num_stages: T >= 1 (6 in the paper).
        width: channels of the trunks and of the stage convolutions (128 in the paper).
        stride: output stride, 2, 4 or 8 (8 in the paper).
        trunk_kernel: kernel of the trunk convolutions (9 in the paper).
        stage_kernel: kernel of the three stacked stage convolutions (11 in the paper).
        feature_channels: channels of the shared image features x' (32 in the paper).
        batch_norm: BatchNorm after each convolution (the paper has none).
        centre_sigma: std of the centre Gaussian as a fraction of min(H, W) (21/368 in the paper).
    """

    def __init__(self, num_keypoints: int, num_stages: int = 6, width: int = 128, stride: int = 8,
                 trunk_kernel: int = 9, stage_kernel: int = 11, feature_channels: int = 32,
                 batch_norm: bool = False, centre_sigma: float = 21 / 368):
        super().__init__()
        if num_stages < 1:
            raise ValueError(f"num_stages must be >= 1, got {num_stages}")
        num_maps = num_keypoints + 1
        self.stride = stride
        self.centre_sigma = centre_sigma
        # stage 1: local evidence only (the paper: trunk, 9x9 -> 512, 1x1 -> 512, 1x1 -> P+1)
        self.stage1 = nn.Sequential(
            Trunk(width, feature_channels, trunk_kernel, stride, batch_norm),
            BeliefHead(feature_channels, 4 * width, 4 * width, num_maps, trunk_kernel, num_large=1,
                       batch_norm=batch_norm),
        )
        # x': one module, shared by every stage t >= 2
        self.features = Trunk(width, feature_channels, trunk_kernel, stride, batch_norm) if num_stages > 1 else None
        self.stages = nn.ModuleList(
            CPMStage(feature_channels, num_maps, width, stage_kernel, batch_norm) for _ in range(num_stages - 1))
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for head in [self.stage1[1], *(s.head for s in self.stages)]:
            nn.init.normal_(head[-1].weight, std=0.001)

    def input_segments(self) -> dict[str, list[str | int]]:
        """Each stage's concatenated input [x', b^{t-1}, centre] for :func:`~posekit.models.widen.widen_state_dict`:
        x' (its last conv) may widen, the P+1 belief maps and the centre map keep their counts."""
        if not self.stages:
            return {}
        features, num_maps = f"features.{len(self.features) - 1}.0", self.stage1[1][-1].out_channels
        return {f"stages.{t}.head.0.0": [features, num_maps, 1] for t in range(len(self.stages))}

    def grow_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of a trained CPM with fewer stages -> weights for this one: each new stage is a copy of the
        trained last stage, so it refines that stage's beliefs as the last stage refined its predecessor's.

        Unlike growing a Stacked Hourglass this is not exactly the same function (a new stage sees b^T, where
        its original saw b^{T-1}); it is close: the width-64 ``cpm-lsp`` (3 stages, 54.75% PCK@0.2) gives 54.83%
        from its copied 4th stage before any training (docs/BENCHMARKS.md). A state dict with as many stages as
        this network, or from a single-stage one (nothing to copy), is returned unchanged.
        """
        stages = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("stages.")), default=-1)
        if stages in (0, len(self.stages)):
            return state
        if stages > len(self.stages):
            raise ValueError(f"weights have {stages + 1} stages, more than this network's {len(self.stages) + 1}")
        prefix = f"stages.{stages - 1}."
        grown = dict(state)
        for t in range(stages, len(self.stages)):
            grown.update({f"stages.{t}.{k[len(prefix):]}": v.clone() for k, v in state.items()
                          if k.startswith(prefix)})
        return grown

    def centre_map(self, images: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) -> (B,1,ceil(H/s),ceil(W/s)): a Gaussian at the crop centre, average-pooled (adaptive bins)."""
        b, _, h, w = images.shape
        sigma = self.centre_sigma * min(h, w)
        ys = torch.arange(h, dtype=images.dtype, device=images.device) - (h - 1) / 2
        xs = torch.arange(w, dtype=images.dtype, device=images.device) - (w - 1) / 2
        gauss = torch.exp(-(ys[:, None] ** 2 + xs[None, :] ** 2) / (2 * sigma**2))
        size = (math.ceil(h / self.stride), math.ceil(w / self.stride))
        return F.adaptive_avg_pool2d(gauss[None, None], size).expand(b, -1, -1, -1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        beliefs = [self.stage1(images)]
        if self.stages:
            features = self.features(images)
            centre = self.centre_map(images)
            for stage in self.stages:
                beliefs.append(stage(features, beliefs[-1], centre))
        return beliefs


def cpm_paper(num_keypoints: int, **kwargs) -> CPM:
    """The paper's 6-stage CPM: width 128, 9x9 trunk, 11x11 stages, stride 8, no BatchNorm."""
    return CPM(num_keypoints, **kwargs)


def cpm_small(num_keypoints: int, **kwargs) -> CPM:
    """A CPU-sized CPM: 3 stages, width 32, 5x5 trunk, 7x7 stages, stride 4, BatchNorm.

    At 128x128 the receptive field of stage 2 spans the whole crop (stage 1's is ~70 px).
    """
    params = {"num_stages": 3, "width": 32, "stride": 4, "trunk_kernel": 5, "stage_kernel": 7, "batch_norm": True}
    return CPM(num_keypoints, **{**params, **kwargs})


MODELS = {
    "cpm_paper": cpm_paper,
    "cpm_small": cpm_small,
}
