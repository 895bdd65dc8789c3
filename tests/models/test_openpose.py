"""Tests for OpenPose: stage wiring and shapes, the masked stage-wise loss, and a short overfit."""


import cv2
import numpy as np
import pytest
import torch
from torch import nn

from posekit.codecs.paf import PAFCodec
from posekit.data.topdown import normalize
from posekit.losses import openpose_loss
from posekit.models.openpose import MODELS, OpenPose, ResNetC3, ResNetPyramid, openpose_small
from posekit.models.backbones.resnet import resnet18
from posekit.skeletons import LSP14


@pytest.mark.parametrize("name", sorted(MODELS))
def test_factories_give_maps_at_their_stride_for_every_stage(name):
    stride = 4 if name.endswith("_s4") else 8
    with torch.device("meta"):  # shapes only
        model = MODELS[name](num_keypoints=17, num_limbs=19)
        out = model(torch.empty(2, 3, 368, 368))
    size = 368 // stride
    assert len(out["pafs"]) == len(model.paf_stages) and len(out["heatmaps"]) == len(model.cm_stages)
    assert all(p.shape == (2, 38, size, size) for p in out["pafs"])
    assert all(s.shape == (2, 17, size, size) for s in out["heatmaps"])


def test_pyramid_trunk_adds_upsampled_deeper_levels_to_c2():
    torch.manual_seed(0)
    trunk = ResNetPyramid(resnet18(width=8), channels=12).eval()
    images = torch.randn(1, 3, 64, 48)
    c2 = trunk.layer1(trunk.maxpool(trunk.relu(trunk.bn1(trunk.conv1(images)))))
    c3 = trunk.layer2(c2)
    c4 = trunk.layer3(c3)
    up = lambda x: x.repeat_interleave(2, -2).repeat_interleave(2, -1)  # noqa: E731  nearest x2
    fused = trunk.laterals[0](c2) + up(trunk.laterals[1](c3) + up(trunk.laterals[2](c4)))
    torch.testing.assert_close(trunk(images), trunk.smooth(fused))
    assert trunk(images).shape == (1, 12, 16, 12)


def test_stages_see_features_and_the_previous_predictions():
    model = OpenPose(ResNetC3(resnet18(width=8)), num_keypoints=5, num_limbs=4, feature_channels=16,
                     paf_stages=3, cm_stages=2, width=8, blocks=1, hidden=16)
    first = lambda stage: stage.blocks[0].convs[0][0].in_channels  # noqa: E731
    assert [first(s) for s in model.paf_stages] == [16, 16 + 8, 16 + 8]  # F, then F + L^{t-1}
    assert [first(s) for s in model.cm_stages] == [16 + 8, 16 + 8 + 5]  # F + L^{T_P}, then + S^{t-1}
    assert model.trunk.out_channels == 16  # C3 of a width-8 ResNet-18
    with pytest.raises(ValueError, match="at least one"):
        OpenPose(ResNetC3(resnet18(width=8)), 5, 4, cm_stages=0)


def tiny_openpose(cm_stages: int) -> OpenPose:
    return OpenPose(ResNetC3(resnet18(width=8)), num_keypoints=5, num_limbs=4, feature_channels=16,
                    paf_stages=2, cm_stages=cm_stages, width=8, blocks=1, hidden=16)


def grow_and_run(trained_stages: int, grown_stages: int, x: torch.Tensor):
    """A tiny network with ``trained_stages`` map stages and weights non-zero everywhere (as after training), the
    same grown to ``grown_stages``, and both networks' outputs on ``x``: (trained, grown, before, after)."""
    trained = tiny_openpose(trained_stages)
    for p in trained.parameters():
        nn.init.normal_(p, std=0.2)
    grown = tiny_openpose(grown_stages)
    grown.load_state_dict(grown.grow_state_dict(trained.state_dict()))
    with torch.no_grad():
        return trained, grown, trained.eval()(x), grown.eval()(x)


def test_more_map_stages_grown_from_one_repeat_its_maps():
    torch.manual_seed(0)
    _, grown, before, after = grow_and_run(1, 3, torch.randn(2, 3, 64, 64))
    for paf_before, paf_after in zip(before["pafs"], after["pafs"]):
        torch.testing.assert_close(paf_after, paf_before)
    for heatmaps in after["heatmaps"]:
        torch.testing.assert_close(heatmaps, before["heatmaps"][0])
    same = grown.state_dict()
    assert grown.grow_state_dict(same) is same
    with pytest.raises(ValueError, match="this network has 2, the weights have 3"):
        tiny_openpose(2).grow_state_dict(same)


def test_a_map_stage_grown_from_two_repeats_the_last_refinement():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    trained, grown, before, after = grow_and_run(2, 4, x)
    with torch.no_grad():
        context = torch.cat([grown.features(grown.trunk(x)), after["pafs"][-1]], 1)
        last = trained.cm_stages[1]
        again = last(torch.cat([context, before["heatmaps"][1]], 1))
        again_twice = last(torch.cat([context, again], 1))
    for ours, theirs in zip(after["heatmaps"][:2], before["heatmaps"]):
        torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(after["heatmaps"][2], again)
    torch.testing.assert_close(after["heatmaps"][3], again_twice)


def test_loss_is_the_masked_sum_over_stages_per_image():
    torch.manual_seed(0)
    b, k, c2, h, w = 2, 3, 4, 5, 6
    targets = {"heatmaps": torch.rand(b, k, h, w), "pafs": torch.rand(b, c2, h, w), "mask": torch.ones(b, h, w)}
    targets["mask"][:, :2] = 0
    outputs = {"pafs": [torch.rand(b, c2, h, w) for _ in range(3)],
               "heatmaps": [torch.rand(b, k, h, w) for _ in range(2)]}
    expected = sum(((p - targets["pafs"])[..., 2:, :] ** 2).sum() for p in outputs["pafs"])
    expected += sum(((s - targets["heatmaps"])[..., 2:, :] ** 2).sum() for s in outputs["heatmaps"])
    assert openpose_loss(outputs, targets).item() == pytest.approx(expected.item() / b, rel=1e-5)
    maps = sum(((s - targets["heatmaps"])[..., 2:, :] ** 2).sum() for s in outputs["heatmaps"])
    weighted = openpose_loss(outputs, targets, heatmap_weight=4.0).item()
    assert weighted == pytest.approx((expected + 3 * maps).item() / b, rel=1e-5)
    # masked pixels carry no gradient
    pred = outputs["pafs"][0].requires_grad_()
    openpose_loss(outputs, targets).backward()
    assert pred.grad[..., :2, :].abs().sum() == 0 and pred.grad[..., 2:, :].abs().sum() > 0


def _scene(codec: PAFCodec):
    """A 64x64 image of two stick people (LSP14) and its targets."""
    rng = np.random.default_rng(0)
    image = np.full((64, 64, 3), 40, np.uint8)
    template = np.array([[-4, 26], [-4, 16], [-4, 8], [4, 8], [4, 16], [4, 26], [-10, 8], [-8, 0], [-5, -6],
                         [5, -6], [8, 0], [10, 8], [0, -8], [0, -14]], np.float64)
    people = []
    for centre in ((18, 30), (46, 34)):
        xy = template * 0.9 + centre + rng.uniform(-1, 1, template.shape)
        for a, b in LSP14.links:
            cv2.line(image, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), (200, 180, 90), 2)
        people.append(np.concatenate([xy, np.full((14, 1), 2.0)], 1))
    return image, codec.encode(np.stack(people))


def test_tiny_model_overfits_one_scene():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        codec = PAFCodec((64, 64), (8, 8), sigma=1.0, limb_width=1.0, skeleton="lsp14")
        image, targets = _scene(codec)
        images = normalize(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])
        targets = {key: torch.from_numpy(v)[None] for key, v in targets.items()}
        model = openpose_small(num_keypoints=14, num_limbs=14, trunk_width=8, feature_channels=16, width=16,
                               blocks=1, hidden=32, paf_stages=2, cm_stages=1)
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        losses = []
        for _ in range(40):
            loss = openpose_loss(model(images), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] <= 0.5 * losses[0], losses
