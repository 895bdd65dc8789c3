"""Tests for the ViT backbone: shapes, position-embedding resampling, drop path,
layer-wise lr decay and weight loading."""

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from posekit.models.backbones.vit import (
    DropPath,
    PatchEmbed,
    VisionTransformer,
    layer_decay_param_groups,
    load_encoder_weights,
    resample_pos_embed,
    vit_base,
    vit_small,
    vit_tiny,
)


def tiny_vit(img_size=(64, 48), **kwargs) -> VisionTransformer:
    """A 2-block, 32-dim ViT: enough structure for every test, fast on CPU."""
    return VisionTransformer(img_size, embed_dim=32, depth=2, num_heads=2, **kwargs)


def test_patch_embed_non_square_grid():
    assert PatchEmbed((256, 192), embed_dim=8).grid_size == (16, 12)
    assert PatchEmbed((256, 192), embed_dim=8, padding=2).grid_size == (16, 12)
    out = PatchEmbed((64, 48), embed_dim=8)(torch.zeros(2, 3, 64, 48))
    assert out.shape == (2, 8, 4, 3)


@pytest.mark.parametrize("class_token", [False, True])
def test_vit_output_is_stride_16_feature_map_for_non_square_input(class_token):
    model = tiny_vit(class_token=class_token).eval()
    out = model(torch.randn(2, 3, 64, 48))
    assert out.shape == (2, 32, 4, 3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("factory, dim", [(vit_tiny, 192), (vit_small, 384), (vit_base, 768)])
def test_vit_factories_output_shapes(factory, dim):
    with torch.device("meta"):  # shapes only: no memory, no compute
        model = factory(img_size=(256, 192), drop_path_rate=0.1)
        out = model(torch.empty(1, 3, 256, 192))
    assert out.shape == (1, dim, 16, 12)
    assert len(model.blocks) == 12


def test_vit_wrong_input_size_raises_unless_dynamic():
    with pytest.raises(ValueError, match="token grid"):
        tiny_vit()(torch.randn(1, 3, 32, 32))
    out = tiny_vit(dynamic_img_size=True)(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 32, 2, 2)


def test_resample_pos_embed_same_grid_is_identity():
    pos = torch.randn(1, 1 + 16 * 12, 8)
    assert torch.equal(resample_pos_embed(pos, (16, 12), (16, 12), num_prefix_tokens=1), pos)


def test_resample_pos_embed_keeps_prefix_and_interpolates_smoothly():
    rows = torch.arange(16.0).view(16, 1).expand(16, 12)  # value = row index
    pos = torch.cat([torch.full((1, 1, 2), 7.0),
                     torch.stack([rows, torch.ones(16, 12)], -1).reshape(1, 192, 2)], 1)
    out = resample_pos_embed(pos, (16, 12), (8, 6), num_prefix_tokens=1)
    assert out.shape == (1, 1 + 48, 2)
    assert torch.equal(out[:, 0], pos[:, 0])
    grid = out[0, 1:].reshape(8, 6, 2)
    torch.testing.assert_close(grid[..., 1], torch.ones(8, 6))  # constant stays constant
    ramp = grid[..., 0]
    assert (ramp.diff(dim=0) > 0).all()  # still increasing down the rows ...
    torch.testing.assert_close(ramp, ramp[:, :1].expand(8, 6))  # ... and constant across
    assert 0 <= ramp.min() and ramp.max() <= 15
    # interior rows land near the source row under each new cell's centre: 2i + 0.5
    torch.testing.assert_close(ramp[2:6, 0], torch.arange(2, 6) * 2 + 0.5, atol=0.1, rtol=0)


def test_drop_path_is_identity_in_eval_and_rescales_in_train():
    x = torch.randn(64, 5, 4)
    layer = DropPath(0.5).eval()
    assert torch.equal(layer(x), x)
    layer.train()
    torch.manual_seed(0)
    y = layer(x)
    kept = (y != 0).flatten(1).all(1)
    assert 0 < kept.sum() < 64  # whole samples are dropped
    torch.testing.assert_close(y[kept], x[kept] * 2)


def test_vit_eval_is_deterministic_with_drop_path():
    model = tiny_vit(drop_path_rate=0.5).eval()
    x = torch.randn(2, 3, 64, 48)
    assert torch.equal(model(x), model(x))


def test_drop_path_rate_rises_linearly_over_depth():
    model = VisionTransformer((32, 32), embed_dim=16, depth=5, num_heads=2, drop_path_rate=0.2)
    rates = [b.drop_path1.drop_prob for b in model.blocks]
    assert rates == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2])


def test_layer_decay_groups_cover_every_parameter_once_with_decreasing_lr():
    model = VisionTransformer((32, 32), embed_dim=16, depth=3, num_heads=2, class_token=True)
    groups = layer_decay_param_groups(model, base_lr=1e-3, weight_decay=0.05, layer_decay=0.5)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))

    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    # L = depth + 2 = 5 layers; layer l gets 0.5 ** (4 - l)
    assert lr_of[id(model.pos_embed)] == pytest.approx(1e-3 / 16)
    assert lr_of[id(model.patch_embed.proj.weight)] == pytest.approx(1e-3 / 16)
    block_lrs = [lr_of[id(b.attn.qkv.weight)] for b in model.blocks]
    assert block_lrs == pytest.approx([1e-3 / 8, 1e-3 / 4, 1e-3 / 2])
    assert lr_of[id(model.norm.weight)] == pytest.approx(1e-3)

    no_decay = [model.pos_embed, model.cls_token, model.norm.weight, model.blocks[0].attn.qkv.bias]
    assert all(wd_of[id(p)] == 0.0 for p in no_decay)
    assert wd_of[id(model.blocks[0].mlp.fc1.weight)] == 0.05


def test_layer_decay_needs_a_vit():
    with pytest.raises(ValueError, match="VisionTransformer"):
        layer_decay_param_groups(nn.Linear(2, 2), 1e-3, 0.0, 0.75)


def test_load_encoder_weights_copies_values_from_safetensors(tmp_path):
    source = tiny_vit()
    tensors = {f"backbone.{k}": v.contiguous() for k, v in source.state_dict().items()}
    tensors["keypoint_head.final_layer.weight"] = torch.zeros(3, 32, 1, 1)
    path = tmp_path / "vit.safetensors"
    save_file(tensors, str(path))

    target = tiny_vit()
    report = load_encoder_weights(target, path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    assert report.missing == []
    assert report.unexpected == ["keypoint_head.final_layer.weight"]
    assert report.pos_embed_resampled is None


def test_load_encoder_weights_from_weights_only_torch_file_reports_missing(tmp_path):
    source = tiny_vit()
    state = {f"encoder.{k}": v for k, v in source.state_dict().items() if not k.startswith("norm.")}
    path = tmp_path / "vit.pth"
    torch.save({"state_dict": state}, path)

    target = tiny_vit()
    report = load_encoder_weights(target, path)
    assert torch.equal(target.blocks[1].mlp.fc2.weight, source.blocks[1].mlp.fc2.weight)
    assert report.missing == ["norm.bias", "norm.weight"]
    assert "2 missing" in str(report)


def test_load_256x192_checkpoint_into_128x96_model_resamples_pos_embed(tmp_path):
    source = tiny_vit(img_size=(256, 192))
    path = tmp_path / "vit_256x192.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))

    target = tiny_vit(img_size=(128, 96))
    report = load_encoder_weights(target, path)
    assert report.pos_embed_resampled == ((16, 12), (8, 6))
    expected = resample_pos_embed(source.pos_embed.data, (16, 12), (8, 6))
    torch.testing.assert_close(target.pos_embed.data, expected)
    # each new embedding is close to the mean of the 2x2 source cells it covers
    src = source.pos_embed.data.reshape(16, 12, -1)
    pooled = src.reshape(8, 2, 6, 2, -1).mean((1, 3)).reshape(1, 48, -1)
    assert (target.pos_embed.data - pooled).abs().mean() < 0.5 * src.std()
    assert torch.equal(target.blocks[0].attn.qkv.weight, source.blocks[0].attn.qkv.weight)
    assert target(torch.randn(1, 3, 128, 96)).shape == (1, 32, 8, 6)


def test_load_folds_class_position_slot_like_vitpose(tmp_path):
    pos = torch.randn(1, 1 + 4 * 3, 32)  # ViTPose/MAE layout: a class slot, then the grid
    path = tmp_path / "pos.safetensors"
    tensors = {"backbone.pos_embed": pos, "backbone.last_norm.weight": torch.full((32,), 2.0)}
    save_file(tensors, str(path))

    target = tiny_vit()
    load_encoder_weights(target, path)
    torch.testing.assert_close(target.pos_embed.data, pos[:, 1:] + pos[:, :1])
    assert torch.equal(target.norm.weight.data, torch.full((32,), 2.0))


def test_load_encoder_weights_without_matching_keys_raises(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"fc.weight": torch.zeros(2, 2), "fc.bias": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="no tensor .* matches the ViT encoder"):
        load_encoder_weights(tiny_vit(), path)


def test_load_encoder_weights_shape_mismatch_raises(tmp_path):
    path = tmp_path / "wide.safetensors"
    save_file({"norm.weight": torch.zeros(64)}, str(path))
    with pytest.raises(ValueError, match="shape mismatch"):
        load_encoder_weights(tiny_vit(), path)
