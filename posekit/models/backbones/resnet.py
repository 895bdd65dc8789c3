"""ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

Written here because torchvision does not run with posekit's torch build. The
module names follow the common ``conv1 / bn1 / layer1..4`` layout, so ImageNet
state dicts exported from other libraries load with :func:`load_backbone_weights`
(a local file; nothing is downloaded).

``forward`` returns the C2..C5 feature maps (strides 4, 8, 16, 32), which
SimpleBaseline (uses C5) and CPN (uses all four) both need.
"""
from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        out = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand x4, with a shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        out = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _projection(in_channels, out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + identity)


def _projection(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels))


class ResNet(nn.Module):
    """ResNet trunk without the classifier.

    Args:
        block: BasicBlock or Bottleneck.
        layers: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        width: channels of the first stage (64 in the paper).
    """

    def __init__(self, block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...], width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_ch = width
        stages = []
        for i, n in enumerate(layers):
            channels = width * 2**i
            blocks = []
            for j in range(n):
                blocks.append(block(in_ch, channels, stride=2 if (i > 0 and j == 0) else 1))
                in_ch = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.out_channels = tuple(width * 2**i * block.expansion for i in range(4))
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # zero-init the last BN of each residual branch: every block starts as identity
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def grow_state_dict(self, state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
        """Weights of a trained shallower ResNet (e.g. ResNet-18 for this ResNet-34) -> weights for this one that
        compute the same features: blocks the weights lack keep their fresh initialisation, which is the identity
        (zero last BN, no projection past a stage's first block). Keys are read and written under ``prefix``.
        """
        given = {tuple(k[len(prefix):].split(".")[:2]) for k in state if k.startswith(prefix + "layer")}
        grown = dict(state)
        for key, value in self.state_dict().items():
            layer, block = key.split(".")[:2]
            if layer.startswith("layer") and block != "0" and (layer, block) not in given:
                grown[prefix + key] = value.clone()
        return grown

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """images (B,3,H,W) -> [C2 (B,c,H/4,W/4), C3 (H/8), C4 (H/16), C5 (H/32)]."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]


def load_backbone_weights(model: nn.Module, path: str) -> None:
    """Load a local state dict (.safetensors or a weights-only torch file); ignores ``fc.*``."""
    from ...io import read_state_dict

    state = {k.removeprefix("backbone."): v for k, v in read_state_dict(path).items() if not k.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if len(missing) == len(model.state_dict()):
        raise ValueError(f"{path}: no tensor matches this ResNet (first keys: {list(state)[:5]})")
    if missing or unexpected:
        raise ValueError(f"{path}: missing keys {missing[:5]}..., unexpected keys {unexpected[:5]}...")


def resnet18(**kwargs) -> ResNet:
    return ResNet(BasicBlock, (2, 2, 2, 2), **kwargs)


def resnet34(**kwargs) -> ResNet:
    return ResNet(BasicBlock, (3, 4, 6, 3), **kwargs)


def resnet50(**kwargs) -> ResNet:
    return ResNet(Bottleneck, (3, 4, 6, 3), **kwargs)
