"""Stacked Hourglass Networks (Newell, Yang, Deng, "Stacked Hourglass Networks for
Human Pose Estimation", ECCV 2016).

- :class:`Residual`: the paper's residual module, a pre-activation bottleneck
  (BN-ReLU-1x1 to c/2, BN-ReLU-3x3, BN-ReLU-1x1 to c) with an identity shortcut
  (1x1 convolution when the channel count changes). It is the only block used.
- :class:`Hourglass`: one hourglass of order ``depth``: the input is kept at its
  resolution by a skip residual, and max-pooled, passed through a residual, an
  hourglass of order ``depth - 1`` (a residual at the bottom) and another
  residual, upsampled by nearest neighbour and added element-wise to the skip.
- :class:`StackedHourglass`: a stem to stride 4 (7x7/2 conv, residual, 2x2
  max-pool, two residuals), then ``num_stacks`` hourglasses. After each: a
  residual and a 1x1 conv-BN-ReLU give features, a 1x1 conv gives K heatmaps
  (intermediate supervision); except after the last, the features and the
  heatmaps, each through a 1x1 conv, are added to the stack's input to form the
  next stack's input.

Output stride 4. Input sides must be multiples of 4 * 2**depth (64 for depth 4).
Loss: heatmap MSE on every stack's output, summed (``posekit.losses.keypoint_mse``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    """Pre-activation bottleneck residual module: (B,in,h,w) -> (B,out,h,w)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1)
        self.shortcut = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(F.relu(self.bn1(x)))
        y = self.conv2(F.relu(self.bn2(y)))
        y = self.conv3(F.relu(self.bn3(y)))
        return y + self.shortcut(x)


class Hourglass(nn.Module):
    """Hourglass of order ``depth``: (B,c,h,w) -> (B,c,h,w), h and w multiples of 2**depth.

        out = skip(x) + upsample_nearest_x2(low3(inner(low1(maxpool_2x2(x)))))

    with ``inner`` an hourglass of order depth-1, or a residual when depth == 1.
    """

    def __init__(self, depth: int, channels: int):
        super().__init__()
        self.skip = Residual(channels, channels)
        self.pool = nn.MaxPool2d(2, 2)
        self.low1 = Residual(channels, channels)
        self.inner = Hourglass(depth - 1, channels) if depth > 1 else Residual(channels, channels)
        self.low3 = Residual(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.inner(self.low1(self.pool(x))))
        return self.skip(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class StackedHourglass(nn.Module):
    """images (B,3,H,W) -> [heatmaps (B,K,H/4,W/4) of stack 1, ..., of stack ``num_stacks``].

    Args:
        num_keypoints: K.
        num_stacks: hourglasses in sequence (8 in the paper).
        width: channels inside the hourglasses (256 in the paper); the stem goes
            through width/4 and width/2.
        depth: order of each hourglass, i.e. its number of poolings (4 in the paper).
    """

    def __init__(self, num_keypoints: int, num_stacks: int = 8, width: int = 256, depth: int = 4):
        super().__init__()
        if num_stacks < 1 or depth < 1:
            raise ValueError(f"num_stacks and depth must be >= 1, got {num_stacks} and {depth}")
        self.depth = depth
        c = width
        self.stem = nn.Sequential(
            nn.Conv2d(3, c // 4, 7, 2, 3, bias=False),
            nn.BatchNorm2d(c // 4),
            nn.ReLU(inplace=True),
            Residual(c // 4, c // 2),
            nn.MaxPool2d(2, 2),
            Residual(c // 2, c // 2),
            Residual(c // 2, c),
        )
        self.hourglasses = nn.ModuleList(Hourglass(depth, c) for _ in range(num_stacks))
        self.features = nn.ModuleList(
            nn.Sequential(Residual(c, c), nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
            for _ in range(num_stacks))
        self.heads = nn.ModuleList(nn.Conv2d(c, num_keypoints, 1) for _ in range(num_stacks))
        self.merge_features = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(num_stacks - 1))
        self.merge_heatmaps = nn.ModuleList(nn.Conv2d(num_keypoints, c, 1) for _ in range(num_stacks - 1))
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for head in self.heads:
            nn.init.normal_(head.weight, std=0.001)

    def grow_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of a trained network with fewer stacks -> weights for this one that give the same last heatmaps.

        The new stacks are copies of the trained last stack and the new merge convolutions start at zero, so every
        new stack sees the input the trained last stack saw and repeats its output; training then deepens from
        there. A state dict with as many stacks as this network, or with none (not an hourglass: loading it then
        names the mismatched keys), is returned unchanged.
        """
        stacks = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("hourglasses.")), default=-1)
        if stacks in (0, len(self.hourglasses)):
            return state
        if stacks > len(self.hourglasses):
            raise ValueError(f"weights have {stacks} stacks, more than this network's {len(self.hourglasses)}")
        grown = dict(state)
        last = stacks - 1
        for i in range(stacks, len(self.hourglasses)):
            for group in ("hourglasses", "features", "heads"):
                prefix = f"{group}.{last}."
                grown.update({f"{group}.{i}.{k[len(prefix):]}": v.clone() for k, v in state.items()
                              if k.startswith(prefix)})
        for i in range(last, len(self.merge_features)):
            for group in ("merge_features", "merge_heatmaps"):
                module = getattr(self, group)[i]
                grown[f"{group}.{i}.weight"] = torch.zeros_like(module.weight)
                grown[f"{group}.{i}.bias"] = torch.zeros_like(module.bias)
        return grown

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        multiple = 4 * 2**self.depth
        if images.shape[-2] % multiple or images.shape[-1] % multiple:
            raise ValueError(f"input size {tuple(images.shape[-2:])} must be a multiple of {multiple} "
                             f"(depth {self.depth})")
        x = self.stem(images)
        outputs = []
        for i, (hourglass, features, head) in enumerate(zip(self.hourglasses, self.features, self.heads)):
            y = features(hourglass(x))
            heatmaps = head(y)
            outputs.append(heatmaps)
            if i < len(self.merge_features):
                x = x + self.merge_features[i](y) + self.merge_heatmaps[i](heatmaps)
        return outputs


def hourglass_stack2(num_keypoints: int, **kwargs) -> StackedHourglass:
    """2 stacks of width 128, depth 4: a CPU-sized hourglass."""
    return StackedHourglass(num_keypoints, **{"num_stacks": 2, "width": 128, "depth": 4, **kwargs})


def hourglass_stack4(num_keypoints: int, **kwargs) -> StackedHourglass:
    """4 stacks of width 128, depth 4: twice hourglass_stack2's depth (and cost); grows from its weights."""
    return StackedHourglass(num_keypoints, **{"num_stacks": 4, "width": 128, "depth": 4, **kwargs})


def hourglass_stack6(num_keypoints: int, **kwargs) -> StackedHourglass:
    """6 stacks of width 128, depth 4 (4.82 M parameters: the most stacks whose fp16 weights fit 10 MB)."""
    return StackedHourglass(num_keypoints, **{"num_stacks": 6, "width": 128, "depth": 4, **kwargs})


def hourglass_paper(num_keypoints: int, **kwargs) -> StackedHourglass:
    """The paper's network: 8 stacks of width 256, depth 4."""
    return StackedHourglass(num_keypoints, **kwargs)


MODELS = {
    "hourglass_stack2": hourglass_stack2,
    "hourglass_stack4": hourglass_stack4,
    "hourglass_stack6": hourglass_stack6,
    "hourglass_paper": hourglass_paper,
}
