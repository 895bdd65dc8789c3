import pytest
import torch

from posekit.models import build_model
from posekit.models.widen import widen_state_dict


def _trained_looking(model: torch.nn.Module) -> torch.nn.Module:
    """Random BatchNorm statistics and affine terms, so BN layers are not near-identities."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    return model.eval()


@pytest.mark.parametrize("name,narrow,wide,size", [
    ("hourglass_stack2", {"width": 16, "depth": 2}, {"width": 24, "depth": 2}, 64),
    ("cpm_small", {"width": 8, "feature_channels": 8}, {"width": 12, "feature_channels": 12}, 64),
    ("simplebaseline_resnet18", {"width": 8, "head_channels": 16}, {"width": 12, "head_channels": 24}, 64),
])
def test_widened_network_computes_the_same_heatmaps(name, narrow, wide, size):
    small = _trained_looking(build_model(name, num_keypoints=14, **narrow))
    big = build_model(name, num_keypoints=14, **wide)
    x = torch.randn(2, 3, size, size)
    state = widen_state_dict(big, small.state_dict(), check=(small, x))
    big.load_state_dict(state)
    assert sum(v.numel() for v in state.values()) > sum(v.numel() for v in small.state_dict().values())
    with torch.no_grad():
        a, b = small(x), big.eval()(x)
    a, b = (a[-1], b[-1]) if isinstance(a, list) else (a, b)
    assert torch.allclose(a, b, atol=1e-5 * float(a.abs().max()) + 1e-6)
    # copied channels are not clones: their BatchNorm scales get different gradients
    out = big.train()(x)
    (out[-1] if isinstance(out, list) else out).square().mean().backward()
    pairs = 0
    for m in big.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            mean = m.running_mean
            for j in range(len(mean)):
                for i in range(j):
                    if mean[i] == mean[j]:  # random statistics coincide only for a copy
                        pairs += 1
                        assert m.weight.grad[i] != m.weight.grad[j]
    assert pairs > 0


def test_equal_shapes_pass_through_and_bad_shapes_are_named():
    model = build_model("hourglass_stack2", num_keypoints=14, width=16, depth=2)
    state = model.state_dict()
    assert widen_state_dict(model, state) is state
    wider = build_model("hourglass_stack2", num_keypoints=14, width=24, depth=2)
    with pytest.raises(ValueError, match="cannot widen to"):
        widen_state_dict(model, wider.state_dict())


def test_cpn_widens_its_declared_refinenet_concatenation_and_the_check_refuses_an_undeclared_one():
    small = _trained_looking(build_model("cpn_resnet18", num_keypoints=14, width=8, channels=16))
    big = build_model("cpn_resnet18", num_keypoints=14, width=12, channels=24)
    x = torch.randn(1, 3, 64, 64)
    big.load_state_dict(widen_state_dict(big, small.state_dict(), check=(small, x)))
    with torch.no_grad():
        a, b = small(x)[-1], big.eval()(x)[-1]
    assert torch.allclose(a, b, atol=1e-4 * float(a.abs().max()) + 1e-6)
    big.input_segments = lambda: {}  # as a design that does not declare its concatenation
    with pytest.raises(ValueError, match="concatenation the model does not declare"):
        widen_state_dict(big, small.state_dict(), check=(small, x))


def test_openpose_widens_its_concatenated_stages_and_keeps_its_maps_and_pafs():
    shape = {"trunk_width": 8, "cm_stages": 2, "blocks": 2}
    small = _trained_looking(build_model("openpose_small_s4", num_keypoints=17, num_limbs=19, width=8,
                                         feature_channels=16, hidden=16, **shape))
    with torch.no_grad():  # PReLU slopes of a trained network differ per channel
        for m in small.modules():
            if isinstance(m, torch.nn.PReLU):
                m.weight.uniform_(0.0, 0.5)
    big = build_model("openpose_small_s4", num_keypoints=17, num_limbs=19, width=12, feature_channels=24,
                      hidden=24, **shape)
    x = torch.randn(1, 3, 64, 64)
    state = widen_state_dict(big, small.state_dict(), check=(small, x))
    big.load_state_dict(state)
    with torch.no_grad():
        a, b = small(x), big.eval()(x)
    for key in ("pafs", "heatmaps"):
        scale = float(a[key][-1].abs().max())
        assert torch.allclose(a[key][-1], b[key][-1], atol=1e-4 * scale + 1e-6)
    assert big.cm_stages[1].blocks[0].convs[0][0].weight.shape[1] == 24 + 38 + 17



def test_openpose_widens_its_map_stages_alone():
    shape = {"trunk_width": 8, "cm_stages": 2, "blocks": 2, "width": 8, "feature_channels": 16, "hidden": 16}
    small = _trained_looking(build_model("openpose_small_s4", num_keypoints=17, num_limbs=19, **shape))
    big = build_model("openpose_small_s4", num_keypoints=17, num_limbs=19, cm_width=12, cm_hidden=24, **shape)
    assert big.cm_stages[0].hidden[0].in_channels == 3 * 12 and big.paf_stages[0].hidden[0].in_channels == 3 * 8
    x = torch.randn(1, 3, 64, 64)
    state = widen_state_dict(big, small.state_dict(), check=(small, x))
    big.load_state_dict(state)
    narrow_state = small.state_dict()
    assert all(torch.equal(v, narrow_state[k]) for k, v in state.items() if not k.startswith("cm_stages."))
    with torch.no_grad():
        a, b = small(x), big.eval()(x)
    scale = float(a["heatmaps"][-1].abs().max())
    assert torch.allclose(a["heatmaps"][-1], b["heatmaps"][-1], atol=1e-4 * scale + 1e-6)

def test_declared_pieces_that_do_not_add_up_are_named():
    small = build_model("openpose_small_s4", num_keypoints=17, num_limbs=19, width=8, feature_channels=16, hidden=16)
    big = build_model("openpose_small_s4", num_keypoints=17, num_limbs=19, width=12, feature_channels=24, hidden=24)
    segments = big.input_segments()
    segments["paf_stages.1.blocks.0.convs.0.0"] = ["features.0"]  # forgets the PAF input
    big.input_segments = lambda: segments
    with pytest.raises(ValueError, match=r"paf_stages\.1\.blocks\.0\.convs\.0\.0: declared input pieces"):
        widen_state_dict(big, small.state_dict())
