"""Tests for Convolutional Pose Machines: belief maps per stage, shared x', centre map, a short fit."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from posekit.codecs.heatmap import BeliefMapCodec
from posekit.losses import cpm_loss
from posekit.models.cpm import CPM, MODELS, CPMStage, cpm_paper, cpm_small


def tiny_cpm(**kwargs) -> CPM:
    return cpm_small(num_keypoints=4, width=8, feature_channels=4, **kwargs)


@pytest.mark.parametrize("stride", [4, 8])
def test_every_stage_predicts_parts_plus_background_at_input_over_stride(stride):
    model = tiny_cpm(stride=stride).eval()
    outputs = model(torch.randn(2, 3, 64, 48))
    assert len(outputs) == 3
    assert all(o.shape == (2, 5, 64 // stride, 48 // stride) for o in outputs)


def test_paper_model_is_six_stages_at_stride_8():
    with torch.device("meta"):
        outputs = cpm_paper(num_keypoints=14)(torch.empty(1, 3, 368, 368))
    assert [tuple(o.shape) for o in outputs] == [(1, 15, 46, 46)] * 6


def test_odd_input_sizes_round_up_like_the_pooling():
    model = tiny_cpm(stride=4).eval()
    outputs = model(torch.randn(1, 3, 66, 45))
    assert outputs[-1].shape[-2:] == (math.ceil(66 / 4), math.ceil(45 / 4))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_factories_take_num_keypoints_and_add_background(name):
    with torch.device("meta"):
        outputs = MODELS[name](num_keypoints=7)(torch.empty(1, 3, 128, 128))
    assert all(o.shape[1] == 8 for o in outputs)


@pytest.mark.parametrize("num_stages", [1, 2, 4])
def test_stage_count_is_configurable(num_stages):
    model = tiny_cpm(num_stages=num_stages).eval()
    assert len(model(torch.randn(1, 3, 32, 32))) == num_stages
    assert len(model.stages) == num_stages - 1
    assert (model.features is None) == (num_stages == 1)


def test_adding_a_stage_adds_one_stage_head_and_no_feature_weights():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    three, four = tiny_cpm(num_stages=3), tiny_cpm(num_stages=4)
    assert count(four) - count(three) == count(four.stages[0])
    assert count(four.features) == count(three.features)
    assert not any(isinstance(m, nn.MaxPool2d) for m in four.stages.modules())  # stages do not pool


def test_stages_after_the_first_share_one_feature_module():
    model = tiny_cpm(num_stages=4).eval()
    feature_outputs, stage_inputs = [], []
    model.features.register_forward_hook(lambda m, i, o: feature_outputs.append(o))
    for stage in model.stages:
        stage.register_forward_hook(lambda m, i, o: stage_inputs.append(i))
    outputs = model(torch.randn(2, 3, 32, 32))
    assert len(feature_outputs) == 1  # x' computed once ...
    assert all(i[0] is feature_outputs[0] for i in stage_inputs)  # ... and fed to every stage t >= 2
    assert all(i[1] is outputs[t] for t, i in enumerate(stage_inputs))  # context: the previous stage's beliefs
    shared = list(model.features.parameters())
    for t in range(1, 4):  # every stage t >= 2 trains the very same x' tensors
        grads = torch.autograd.grad(outputs[t].square().sum(), shared, retain_graph=True)
        assert all(g.abs().sum() > 0 for g in grads)
    first = torch.autograd.grad(outputs[0].sum(), shared, allow_unused=True)
    assert all(g is None for g in first)  # stage 1 sees only its own local trunk


def test_stage_input_is_features_beliefs_and_centre_map():
    stage = CPMStage(feature_channels=4, num_maps=5, channels=8, kernel=3, batch_norm=False)
    first = stage.head[0][0]
    assert isinstance(first, nn.Conv2d) and first.in_channels == 4 + 5 + 1


def test_centre_map_is_a_gaussian_at_the_crop_centre_pooled_to_feature_size():
    model = tiny_cpm(stride=4)
    centre = model.centre_map(torch.zeros(2, 3, 64, 64))
    assert centre.shape == (2, 1, 16, 16)
    assert torch.allclose(centre, centre.flip(-1)) and torch.allclose(centre, centre.flip(-2))
    assert torch.allclose(centre[0, 0, 7:9, 7:9], centre.max())  # peak on the central 2x2 cells
    assert centre[0, 0, 0, 0] < 1e-3 * centre.max()


def test_heads_start_small_and_stages_use_large_kernels():
    model = cpm_small(num_keypoints=4)
    heads = [model.stage1[1][-1], *(s.head[-1] for s in model.stages)]
    assert all(h.weight.std() < 0.002 and torch.all(h.bias == 0) for h in heads)
    assert all(s.head[i][0].kernel_size == (7, 7) for s in model.stages for i in range(3))


def test_training_steps_lower_cpm_loss():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    codec = BeliefMapCodec((64, 64), (16, 16), sigma=1.0)
    encoded = [codec.encode(rng.uniform(8, 56, (4, 2)), np.ones(4)) for _ in range(2)]
    target = torch.from_numpy(np.stack([e["heatmaps"] for e in encoded]))
    weights = torch.from_numpy(np.stack([e["weights"] for e in encoded]))
    model = tiny_cpm().train()
    images = torch.randn(2, 3, 64, 64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(10):
        loss = cpm_loss(model(images), target, weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_a_deeper_cpm_grown_from_trained_weights_repeats_its_last_stage():
    torch.manual_seed(0)
    shallow = tiny_cpm(num_stages=3).eval()
    for p in shallow.parameters():  # away from the initialisation, as after training
        nn.init.normal_(p, std=0.2)
    deep = tiny_cpm(num_stages=5).eval()
    deep.load_state_dict(deep.grow_state_dict(shallow.state_dict()))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        before, after = shallow(x), deep(x)
        features, centre = shallow.features(x), shallow.centre_map(x)
        repeated = [before[-1]]
        for _ in range(2):  # the last trained stage applied again to its own beliefs
            repeated.append(shallow.stages[-1](features, repeated[-1], centre))
    assert len(after) == 5
    for grown, expected in zip(after, [*before, *repeated[1:]]):
        torch.testing.assert_close(grown, expected)
    same = deep.state_dict()
    assert deep.grow_state_dict(same) is same
    with pytest.raises(ValueError, match="5 stages, more than this network's 3"):
        shallow.grow_state_dict(deep.state_dict())
