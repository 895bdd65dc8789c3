"""Tests for ViTPose: decoder strides, factory shapes, init and a short fit."""

import pytest
import torch
from torch import nn

from posekit.models.backbones.vit import layer_decay_param_groups
from posekit.models.vitpose import (
    MODELS,
    ClassicDecoder,
    SimpleDecoder,
    vitpose_tiny_classic,
    vitpose_tiny_simple,
)


@pytest.mark.parametrize("decoder_cls", [ClassicDecoder, SimpleDecoder])
def test_decoders_upsample_by_4_to_k_heatmaps(decoder_cls):
    decoder = decoder_cls(in_channels=32, num_keypoints=5).eval()
    assert decoder(torch.randn(2, 32, 4, 3)).shape == (2, 5, 16, 12)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_factories_give_stride_4_heatmaps_for_256x192(name):
    with torch.device("meta"):  # shapes only: no memory, no compute
        model = MODELS[name](num_keypoints=17)
        out = model(torch.empty(1, 3, 256, 192))
    assert out.shape == (1, 17, 64, 48)


def test_input_size_is_width_height():
    model = vitpose_tiny_simple(num_keypoints=3, input_size=(48, 64)).eval()
    assert model.backbone.grid_size == (4, 3)
    assert model(torch.randn(2, 3, 64, 48)).shape == (2, 3, 16, 12)


def test_decoder_init_is_small_and_bias_free():
    model = vitpose_tiny_classic(num_keypoints=3, input_size=(48, 64))
    head = model.decoder.final
    assert head.weight.std() < 0.002 and torch.all(head.bias == 0)
    deconvs = [m for m in model.decoder.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(deconvs) == 2 and all(m.weight.std() < 0.002 for m in deconvs)


def test_layer_decay_gives_decoder_full_lr():
    model = vitpose_tiny_classic(num_keypoints=3, input_size=(48, 64))
    groups = layer_decay_param_groups(model, base_lr=1e-3, weight_decay=0.1, layer_decay=0.75)
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert len(lr_of) == sum(1 for _ in model.parameters())
    assert all(lr_of[id(p)] == pytest.approx(1e-3) for p in model.decoder.parameters())
    assert lr_of[id(model.backbone.pos_embed)] == pytest.approx(1e-3 * 0.75**13)


def gaussian_heatmaps(centres: torch.Tensor, height: int, width: int, sigma: float = 1.5):
    """centres (B, K, 2) as (x, y) heatmap pixels -> (B, K, height, width) peaks of 1."""
    ys = torch.arange(height, dtype=torch.float32).view(1, 1, height, 1)
    xs = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width)
    dx = xs - centres[..., 0, None, None]
    dy = ys - centres[..., 1, None, None]
    return torch.exp(-(dx**2 + dy**2) / (2 * sigma**2))


def test_training_steps_lower_heatmap_mse():
    torch.manual_seed(0)
    model = vitpose_tiny_classic(num_keypoints=3, input_size=(48, 64)).train()
    images = torch.randn(4, 3, 64, 48)
    centres = torch.rand(4, 3, 2) * torch.tensor([11.0, 15.0])
    targets = gaussian_heatmaps(centres, 16, 12)
    optimizer = torch.optim.AdamW(layer_decay_param_groups(model, 1e-3, 0.05, 0.75))

    losses = []
    for _ in range(20):
        loss = nn.functional.mse_loss(model(images), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0], losses
