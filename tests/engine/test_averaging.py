import pytest
import torch

from posekit.engine.averaging import average_weights
from posekit.io import save_weights
from posekit.models import build_model

ARCH = {"name": "hourglass_stack2", "params": {"width": 16, "depth": 2}}


def _saved(tmp_path, name: str, seed: int, arch=ARCH):
    torch.manual_seed(seed)
    model = build_model(arch["name"], num_keypoints=14, **arch["params"])
    for m in model.modules():  # distinct BatchNorm statistics per file
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.num_batches_tracked.fill_(seed)
    return model, save_weights(model, tmp_path / name, {"model": arch, "num_keypoints": 14, "metric": {"value": 0.5}})


def test_average_is_the_elementwise_mean_and_keeps_integer_buffers_of_the_first(tmp_path):
    a, path_a = _saved(tmp_path, "a", 1)
    b, path_b = _saved(tmp_path, "b", 2)
    c, path_c = _saved(tmp_path, "c", 3)
    mean, sidecar = average_weights([path_a, path_b, path_c])
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    for k, v in mean.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(v, (sa[k] + sb[k] + sc[k]) / 3, atol=1e-6), k
        else:
            assert torch.equal(v, sa[k]), k
    assert not mean.training
    assert sidecar["averaged_from"] == [str(path_a), str(path_b), str(path_c)]


def test_average_refuses_one_file_and_mixed_architectures(tmp_path):
    _, path_a = _saved(tmp_path, "a", 1)
    _, wider = _saved(tmp_path, "wide", 2, {"name": "hourglass_stack2", "params": {"width": 24, "depth": 2}})
    with pytest.raises(ValueError, match="two or more"):
        average_weights([path_a])
    with pytest.raises(ValueError, match="wide.safetensors: architecture .* differs"):
        average_weights([path_a, wider])

