"""SimpleBaseline (Xiao et al., "Simple Baselines for Human Pose Estimation and
Tracking", ECCV 2018): a ResNet, three 4x4 stride-2 deconvolutions, a 1x1 head.

Output stride is 4: a 256x192 crop gives 64x48 heatmaps.
"""
from __future__ import annotations

import torch
from torch import nn

from .backbones.resnet import ResNet, resnet18, resnet34, resnet50


class DeconvHead(nn.Module):
    """``num_layers`` x (ConvTranspose 4x4 stride 2 + BN + ReLU), then a 1x1 conv to K heatmaps."""

    def __init__(self, in_channels: int, num_keypoints: int, channels: int = 256, num_layers: int = 3):
        super().__init__()
        layers = []
        for _ in range(num_layers):
            layers += [
                nn.ConvTranspose2d(in_channels, channels, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = channels
        self.deconv = nn.Sequential(*layers)
        self.final = nn.Conv2d(channels, num_keypoints, 1)
        for m in self.deconv:
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final.weight, std=0.001)
        nn.init.zeros_(self.final.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final(self.deconv(x))


class SimpleBaseline(nn.Module):
    """images (B,3,H,W) -> heatmaps (B,K,H/4,W/4)."""

    def __init__(self, backbone: ResNet, num_keypoints: int, head_channels: int = 256):
        super().__init__()
        self.backbone = backbone
        self.head = DeconvHead(backbone.out_channels[-1], num_keypoints, head_channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(images)[-1])


def simplebaseline_resnet18(num_keypoints: int, head_channels: int = 256, width: int = 64) -> SimpleBaseline:
    return SimpleBaseline(resnet18(width=width), num_keypoints, head_channels)


def simplebaseline_resnet34(num_keypoints: int, head_channels: int = 256, width: int = 64) -> SimpleBaseline:
    return SimpleBaseline(resnet34(width=width), num_keypoints, head_channels)


def simplebaseline_resnet50(num_keypoints: int, head_channels: int = 256, width: int = 64) -> SimpleBaseline:
    return SimpleBaseline(resnet50(width=width), num_keypoints, head_channels)


MODELS = {
    "simplebaseline_resnet18": simplebaseline_resnet18,
    "simplebaseline_resnet34": simplebaseline_resnet34,
    "simplebaseline_resnet50": simplebaseline_resnet50,
}
