"""Tests for Stacked Hourglass: per-stack heatmaps, the additive skip merge, re-injection, a short fit."""
import pytest
import torch
from torch import nn

from posekit.losses import keypoint_mse
from posekit.models.hourglass import MODELS, Hourglass, Residual, StackedHourglass


def tiny_hourglass(**kwargs) -> StackedHourglass:
    return StackedHourglass(num_keypoints=5, **{"num_stacks": 3, "width": 16, "depth": 2, **kwargs})


def test_every_stack_predicts_k_heatmaps_at_stride_4():
    outputs = tiny_hourglass().eval()(torch.randn(2, 3, 64, 48))
    assert len(outputs) == 3
    assert all(o.shape == (2, 5, 16, 12) for o in outputs)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_factories_give_stride_4_heatmaps_for_256x256(name):
    with torch.device("meta"):
        model = MODELS[name](num_keypoints=16)
        outputs = model(torch.empty(1, 3, 256, 256))
    assert all(o.shape == (1, 16, 64, 64) for o in outputs)
    assert len(outputs) == {"hourglass_stack2": 2, "hourglass_stack4": 4, "hourglass_stack6": 6, "hourglass_paper": 8}[name]


def test_depth_is_the_number_of_nested_hourglasses():
    hourglass = Hourglass(depth=3, channels=8)
    orders = []
    while isinstance(hourglass, Hourglass):
        orders.append(hourglass)
        hourglass = hourglass.inner
    assert len(orders) == 3 and isinstance(hourglass, Residual)


def test_hourglass_adds_the_skip_branch_to_the_nearest_upsampled_low_branch():
    torch.manual_seed(0)
    hourglass = Hourglass(depth=2, channels=8).eval()
    seen = {}
    for name in ("skip", "low3", "pool"):
        getattr(hourglass, name).register_forward_hook(lambda m, i, o, name=name: seen.setdefault(name, o))
    x = torch.randn(2, 8, 16, 16)
    out = hourglass(x)
    assert seen["pool"].shape[-2:] == (8, 8) and torch.equal(seen["pool"], nn.functional.max_pool2d(x, 2))
    upsampled = seen["low3"].repeat_interleave(2, -1).repeat_interleave(2, -2)
    torch.testing.assert_close(out, seen["skip"] + upsampled)


def test_residual_module_is_a_pre_activation_bottleneck():
    same, wider = Residual(8, 8), Residual(8, 16)
    assert isinstance(same.shortcut, nn.Identity) and isinstance(wider.shortcut, nn.Conv2d)
    assert (same.conv1.out_channels, same.conv2.kernel_size, same.conv3.out_channels) == (4, (3, 3), 8)
    nn.init.zeros_(same.conv3.weight)
    nn.init.zeros_(same.conv3.bias)
    x = torch.randn(2, 8, 4, 4)
    torch.testing.assert_close(same.eval()(x), x)  # residual branch off: the identity, no post-activation


def test_predictions_and_features_are_reinjected_into_the_next_stack():
    model = tiny_hourglass(num_stacks=2).eval()
    seen = {}
    model.stem.register_forward_hook(lambda m, i, o: seen.setdefault("stem", o))
    model.features[0].register_forward_hook(lambda m, i, o: seen.setdefault("features", o))
    model.hourglasses[1].register_forward_hook(lambda m, i, o: seen.setdefault("input2", i[0]))
    outputs = model(torch.randn(1, 3, 64, 64))
    expected = seen["stem"] + model.merge_features[0](seen["features"]) + model.merge_heatmaps[0](outputs[0])
    torch.testing.assert_close(seen["input2"], expected)
    assert len(model.merge_features) == len(model.merge_heatmaps) == 1  # nothing after the last stack


def test_a_deeper_network_grown_from_trained_weights_repeats_their_last_heatmaps():
    torch.manual_seed(0)
    shallow = tiny_hourglass(num_stacks=2)
    for p in shallow.parameters():  # non-zero merges and heads, as after training
        nn.init.normal_(p, std=0.2)
    deep = tiny_hourglass(num_stacks=4)
    deep.load_state_dict(deep.grow_state_dict(shallow.state_dict()))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before, after = shallow.eval()(x), deep.eval()(x)
    torch.testing.assert_close(after[0], before[0])
    for heatmaps in after[1:]:
        torch.testing.assert_close(heatmaps, before[1])
    same = deep.state_dict()
    assert deep.grow_state_dict(same) is same
    with pytest.raises(ValueError, match="4 stacks, more than this network's 2"):
        shallow.grow_state_dict(deep.state_dict())


def test_heads_start_small():
    model = tiny_hourglass()
    assert all(h.weight.std() < 0.002 and torch.all(h.bias == 0) for h in model.heads)


def test_input_must_be_a_multiple_of_4_times_2_to_the_depth():
    with pytest.raises(ValueError, match="multiple of 16"):
        tiny_hourglass()(torch.randn(1, 3, 64, 40))


def test_training_steps_lower_the_summed_stack_loss():
    torch.manual_seed(0)
    model = tiny_hourglass(num_stacks=2).train()
    images = torch.randn(2, 3, 64, 64)
    target = torch.zeros(2, 5, 16, 16)
    target[:, :, 4:7, 9:12] = 1.0
    weights = torch.ones(2, 5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        loss = sum(keypoint_mse(o, target, weights) for o in model(images))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
