"""Tests for the Cascaded Pyramid Network: GlobalNet levels, RefineNet, output order, a short fit."""
import pytest
import torch
from torch import nn

from posekit.losses import cpn_loss
from posekit.models.backbones.resnet import Bottleneck
from posekit.models.cpn import CPN, MODELS, GlobalNet, cpn_resnet18, cpn_resnet34


def tiny_cpn(**kwargs) -> CPN:
    return cpn_resnet18(num_keypoints=5, width=8, channels=16, **kwargs)


def test_outputs_four_global_levels_then_refine_all_at_stride_4():
    outputs = tiny_cpn().eval()(torch.randn(2, 3, 64, 48))
    assert len(outputs) == 5
    assert all(o.shape == (2, 5, 16, 12) for o in outputs)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_factories_give_stride_4_heatmaps_for_256x192(name):
    with torch.device("meta"):
        outputs = MODELS[name](num_keypoints=17)(torch.empty(1, 3, 256, 192))
    assert [tuple(o.shape) for o in outputs] == [(1, 17, 64, 48)] * 5


def test_cpn_on_resnet34_grown_from_resnet18_weights_gives_the_same_heatmaps():
    torch.manual_seed(0)
    shallow = tiny_cpn()
    for p in shallow.parameters():  # non-zero residual branches everywhere, as after training
        nn.init.normal_(p, mean=0.1, std=0.2)
    deep = cpn_resnet34(num_keypoints=5, width=8, channels=16)
    deep.load_state_dict(deep.grow_state_dict(shallow.state_dict()))
    x = torch.randn(2, 3, 64, 48)
    with torch.no_grad():
        for before, after in zip(shallow.eval()(x), deep.eval()(x)):
            torch.testing.assert_close(after, before)
    assert len(deep.backbone.layer3) == 6 and torch.equal(deep.backbone.layer3[5].bn2.weight, torch.zeros(32))


def test_global_net_builds_a_top_down_pyramid_at_common_width():
    net = GlobalNet((8, 16, 32, 64), num_keypoints=3, channels=12).eval()
    feats = [torch.randn(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate((8, 16, 32, 64))]
    pyramid, heatmaps = net(feats)
    assert [tuple(p.shape) for p in pyramid] == [(1, 12, 32 // 2**i, 32 // 2**i) for i in range(4)]
    assert all(h.shape == (1, 3, 32, 32) for h in heatmaps)
    assert all(h.kernel_size == (3, 3) for h in net.heads)
    # the coarsest level sees only C5; each finer one adds the upsampled coarser level
    feats[0] = torch.zeros_like(feats[0])
    top = net(feats)[0]
    assert torch.equal(top[3], pyramid[3]) and not torch.equal(top[2], torch.zeros_like(top[2]))


def test_refine_net_uses_more_bottlenecks_at_deeper_levels():
    model = tiny_cpn()
    counts = [sum(isinstance(m, Bottleneck) for m in level.modules()) for level in model.refine_net.levels]
    assert counts == [0, 1, 2, 3]
    assert isinstance(model.refine_net.fuse, Bottleneck) and model.refine_net.head.kernel_size == (3, 3)
    other = tiny_cpn(refine_blocks=(1, 1, 1, 1))
    assert [len(level) for level in other.refine_net.levels] == [1, 1, 1, 1]


def test_refined_heatmaps_come_last():
    model = tiny_cpn().eval()
    seen = []
    model.refine_net.register_forward_hook(lambda m, i, o: seen.append(o))
    outputs = model(torch.randn(1, 3, 64, 64))
    assert outputs[-1] is seen[0]


def test_heads_start_small():
    model = tiny_cpn()
    heads = [*model.global_net.heads, model.refine_net.head]
    assert all(isinstance(h, nn.Conv2d) and h.weight.std() < 0.002 and torch.all(h.bias == 0) for h in heads)


def test_training_steps_lower_cpn_loss():
    torch.manual_seed(0)
    model = tiny_cpn().train()
    images = torch.randn(2, 3, 64, 64)
    target = torch.zeros(2, 5, 16, 16)
    target[:, :, 4:7, 9:12] = 1.0
    weights = torch.ones(2, 5)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(10):
        loss = cpn_loss(model(images), target, weights, top_k=2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
