"""Cascaded Pyramid Network (Chen, Wang, Peng, Zhang, Yu, Sun, "Cascaded Pyramid
Network for Multi-Person Pose Estimation", CVPR 2018).

- backbone: posekit's ResNet, features C2..C5 (strides 4, 8, 16, 32);
- :class:`GlobalNet`: a 1x1 lateral conv brings each C_i to ``channels`` (256 in
  the paper); top-down, the coarser level is upsampled (bilinear), passed through
  a 1x1 conv (the paper's change to FPN) and added element-wise, giving P2..P5;
  a 3x3 conv on each level predicts K heatmaps, upsampled to the C2 resolution;
- :class:`RefineNet`: each P_i goes through ``blocks[i]`` bottleneck blocks (0, 1,
  2, 3 for P2..P5 in the paper: more work for the coarser, more semantic levels),
  is upsampled to the C2 resolution, and the four are concatenated; a bottleneck
  and a 3x3 conv give the refined heatmaps.

``forward(images) -> [G2, G3, G4, G5, R]``: the GlobalNet heatmaps from fine (P2)
to coarse (P5), then the RefineNet heatmaps last (what inference uses), all
(B,K,H/4,W/4). Training: L2 on every G_l, L2 with online hard keypoint mining on
R (``posekit.losses.cpn_loss``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones.resnet import Bottleneck, ResNet, resnet18, resnet34, resnet50


def _conv_bn(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))


def _resize(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


class GlobalNet(nn.Module):
    """[C2..C5] -> (features [P2..P5], each (B,channels,h_i,w_i); heatmaps [G2..G5], each (B,K,h_2,w_2))."""

    def __init__(self, in_channels: tuple[int, ...], num_keypoints: int, channels: int = 256):
        super().__init__()
        self.laterals = nn.ModuleList(_conv_bn(c, channels) for c in in_channels)
        self.top_down = nn.ModuleList(_conv_bn(channels, channels) for _ in in_channels[:-1])
        self.heads = nn.ModuleList(nn.Conv2d(channels, num_keypoints, 3, padding=1) for _ in in_channels)

    def forward(self, feats: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        pyramid = [F.relu(self.laterals[-1](feats[-1]))]
        for i in range(len(feats) - 2, -1, -1):
            upsampled = self.top_down[i](_resize(pyramid[0], feats[i].shape[-2:]))
            pyramid.insert(0, F.relu(self.laterals[i](feats[i]) + upsampled))
        size = pyramid[0].shape[-2:]
        heatmaps = [_resize(head(p), size) for head, p in zip(self.heads, pyramid)]
        return pyramid, heatmaps


class RefineNet(nn.Module):
    """[P2..P5] -> refined heatmaps (B,K,h_2,w_2).

    Level i: ``blocks[i]`` bottlenecks (channels -> channels), upsampled to P2's size;
    concatenation (B, L*channels, h_2, w_2) -> bottleneck to ``channels`` -> 3x3 conv to K.
    """

    def __init__(self, num_levels: int, num_keypoints: int, channels: int = 256,
                 blocks: tuple[int, ...] = (0, 1, 2, 3)):
        super().__init__()
        if len(blocks) != num_levels:
            raise ValueError(f"blocks {blocks} must give one count per pyramid level ({num_levels})")
        bottleneck = channels // Bottleneck.expansion
        self.levels = nn.ModuleList(
            nn.Sequential(*(Bottleneck(channels, bottleneck) for _ in range(n))) for n in blocks)
        self.fuse = Bottleneck(num_levels * channels, bottleneck)
        self.head = nn.Conv2d(channels, num_keypoints, 3, padding=1)

    def forward(self, pyramid: list[torch.Tensor]) -> torch.Tensor:
        size = pyramid[0].shape[-2:]
        fused = torch.cat([_resize(level(p), size) for level, p in zip(self.levels, pyramid)], 1)
        return self.head(self.fuse(fused))


class CPN(nn.Module):
    """images (B,3,H,W) -> [G2, G3, G4, G5, R], each (B,K,H/4,W/4) (GlobalNet fine to coarse, then RefineNet).

    Args:
        backbone: a ResNet returning [C2, C3, C4, C5].
        num_keypoints: K.
        channels: GlobalNet / RefineNet width (256 in the paper).
        refine_blocks: bottlenecks per level in RefineNet ((0, 1, 2, 3) in the paper).
    """

    def __init__(self, backbone: ResNet, num_keypoints: int, channels: int = 256,
                 refine_blocks: tuple[int, ...] = (0, 1, 2, 3)):
        super().__init__()
        self.backbone = backbone
        self.global_net = GlobalNet(backbone.out_channels, num_keypoints, channels)
        self.refine_net = RefineNet(len(backbone.out_channels), num_keypoints, channels, tuple(refine_blocks))
        self._init_weights()

    def _init_weights(self):
        for m in [*self.global_net.modules(), *self.refine_net.modules()]:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for head in [*self.global_net.heads, self.refine_net.head]:
            nn.init.normal_(head.weight, std=0.001)
            nn.init.zeros_(head.bias)

    def input_segments(self) -> dict[str, list[str | int]]:
        """RefineNet's concatenation for :func:`~posekit.models.widen.widen_state_dict`: one piece per pyramid
        level, each as wide as GlobalNet's laterals."""
        levels = ["global_net.laterals.0.0"] * len(self.refine_net.levels)
        return {"refine_net.fuse.conv1": levels, "refine_net.fuse.downsample.0": levels}

    def grow_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of a trained CPN on a shallower ResNet -> weights for this one that give the same heatmaps."""
        return self.backbone.grow_state_dict(state, "backbone.")

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        pyramid, global_heatmaps = self.global_net(self.backbone(images))
        return [*global_heatmaps, self.refine_net(pyramid)]


def cpn_resnet18(num_keypoints: int, width: int = 64, **kwargs) -> CPN:
    """CPN on ResNet-18 (``width`` = its first-stage channels); kwargs go to :class:`CPN`."""
    return CPN(resnet18(width=width), num_keypoints, **kwargs)


def cpn_resnet34(num_keypoints: int, width: int = 64, **kwargs) -> CPN:
    """CPN on ResNet-34; grows from cpn_resnet18 weights (``model.init``); kwargs go to :class:`CPN`."""
    return CPN(resnet34(width=width), num_keypoints, **kwargs)


def cpn_resnet50(num_keypoints: int, width: int = 64, **kwargs) -> CPN:
    """CPN on ResNet-50, the paper's smallest backbone; kwargs go to :class:`CPN`."""
    return CPN(resnet50(width=width), num_keypoints, **kwargs)


MODELS = {
    "cpn_resnet18": cpn_resnet18,
    "cpn_resnet34": cpn_resnet34,
    "cpn_resnet50": cpn_resnet50,
}
