"""ViTPose: a plain Vision Transformer with a light heatmap decoder.

Xu, Zhang, Zhang, Tao. "ViTPose: Simple Vision Transformer Baselines for Human Pose
Estimation", NeurIPS 2022. Top-down: a person crop (B, 3, H, W) goes through a plain
ViT (stride 16) and a decoder that upsamples x4 to K heatmaps at stride 4.

Two decoders from the paper:
- ``ClassicDecoder``: two (ConvTranspose 4x4 s2 + BN + ReLU) blocks, then a 1x1 conv.
- ``SimpleDecoder``: ReLU, bilinear x4 upsampling, then a 3x3 conv. The paper's text
  puts the ReLU after the upsampling; the released code (``TopdownHeatmapSimpleHead``)
  applies it first, and so do we, so released weights compute the same function.

Encoder weights (e.g. MAE-pretrained) load with
``posekit.models.backbones.vit.load_encoder_weights(model.backbone, path)``; fine-tune
with ``layer_decay_param_groups(model, ...)`` (ViTPose uses layer_decay 0.75 for base).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from posekit.models.backbones.vit import VisionTransformer, vit_base, vit_small, vit_tiny
from posekit.models.simplebaseline import DeconvHead


class ClassicDecoder(DeconvHead):
    """Two deconvolution blocks and a 1x1 head: (B, C_in, h, w) -> (B, K, 4h, 4w).

    The SimpleBaseline head with two instead of three upsampling steps (ViT features are at stride 16).
    """

    def __init__(self, in_channels: int, num_keypoints: int, channels: int = 256) -> None:
        super().__init__(in_channels, num_keypoints, channels, num_layers=2)


class SimpleDecoder(nn.Module):
    """ReLU, bilinear x4 upsampling and a 3x3 head: (B, C_in, h, w) -> (B, K, 4h, 4w)."""

    def __init__(self, in_channels: int, num_keypoints: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(in_channels, num_keypoints, 3, padding=1)
        nn.init.normal_(self.head.weight, std=0.001)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(F.relu(x), scale_factor=4, mode="bilinear", align_corners=False)
        return self.head(x)


class ViTPose(nn.Module):
    """ViT backbone + heatmap decoder.

    forward: images (B, 3, H, W), normalised crops -> heatmaps (B, K, H/4, W/4) logits
    (unbounded; trained with MSE against Gaussian targets).
    """

    stride = 4

    def __init__(self, backbone: VisionTransformer, decoder: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.decoder = decoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.backbone(images))


def _vitpose(
    vit_factory: Callable[..., VisionTransformer],
    decoder_cls: type[ClassicDecoder] | type[SimpleDecoder],
    num_keypoints: int,
    input_size: tuple[int, int],
    drop_path_rate: float,
    **kwargs,
) -> ViTPose:
    """Assemble a ViTPose; input_size is (width, height) pixels, kwargs go to the ViT."""
    width, height = input_size
    backbone = vit_factory(img_size=(height, width), drop_path_rate=drop_path_rate, **kwargs)
    return ViTPose(backbone, decoder_cls(backbone.embed_dim, num_keypoints))


def vitpose_tiny_classic(
    num_keypoints: int,
    input_size: tuple[int, int] = (192, 256),
    drop_path_rate: float = 0.1,
    **kwargs,
) -> ViTPose:
    """ViTPose with ViT-Tiny and the classic (deconv) decoder. input_size is (W, H) pixels."""
    return _vitpose(vit_tiny, ClassicDecoder, num_keypoints, input_size, drop_path_rate, **kwargs)


def vitpose_tiny_simple(
    num_keypoints: int,
    input_size: tuple[int, int] = (192, 256),
    drop_path_rate: float = 0.1,
    **kwargs,
) -> ViTPose:
    """ViTPose with ViT-Tiny and the simple (bilinear) decoder. input_size is (W, H) pixels."""
    return _vitpose(vit_tiny, SimpleDecoder, num_keypoints, input_size, drop_path_rate, **kwargs)


def vitpose_small_classic(
    num_keypoints: int,
    input_size: tuple[int, int] = (192, 256),
    drop_path_rate: float = 0.1,
    **kwargs,
) -> ViTPose:
    """ViTPose-S with the classic (deconv) decoder. input_size is (W, H) pixels."""
    return _vitpose(vit_small, ClassicDecoder, num_keypoints, input_size, drop_path_rate, **kwargs)


def vitpose_small_simple(
    num_keypoints: int,
    input_size: tuple[int, int] = (192, 256),
    drop_path_rate: float = 0.1,
    **kwargs,
) -> ViTPose:
    """ViTPose-S with the simple (bilinear) decoder. input_size is (W, H) pixels."""
    return _vitpose(vit_small, SimpleDecoder, num_keypoints, input_size, drop_path_rate, **kwargs)


def vitpose_base_classic(
    num_keypoints: int,
    input_size: tuple[int, int] = (192, 256),
    drop_path_rate: float = 0.1,
    **kwargs,
) -> ViTPose:
    """ViTPose-B with the classic (deconv) decoder. input_size is (W, H) pixels."""
    return _vitpose(vit_base, ClassicDecoder, num_keypoints, input_size, drop_path_rate, **kwargs)


def vitpose_base_simple(
    num_keypoints: int,
    input_size: tuple[int, int] = (192, 256),
    drop_path_rate: float = 0.1,
    **kwargs,
) -> ViTPose:
    """ViTPose-B with the simple (bilinear) decoder. input_size is (W, H) pixels."""
    return _vitpose(vit_base, SimpleDecoder, num_keypoints, input_size, drop_path_rate, **kwargs)


MODELS = {
    "vitpose_tiny_classic": vitpose_tiny_classic,
    "vitpose_tiny_simple": vitpose_tiny_simple,
    "vitpose_small_classic": vitpose_small_classic,
    "vitpose_small_simple": vitpose_small_simple,
    "vitpose_base_classic": vitpose_base_classic,
    "vitpose_base_simple": vitpose_base_simple,
}
