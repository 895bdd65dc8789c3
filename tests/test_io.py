import json

import pytest
import torch

from posekit.io import load_model, read_state_dict, save_weights
from posekit.models.hourglass import StackedHourglass


def _sidecar(model) -> dict:
    return {"format": "posekit-weights/1", "task": "topdown", "model": {"name": "hourglass_stack2",
            "params": {"width": 32, "depth": 2}}, "num_keypoints": 14, "skeleton": "lsp14"}


@pytest.mark.parametrize("storage,weight_bytes,vector_bytes", [("float32", 4, 4), ("float16", 2, 2), ("int8", 1, 2)])
def test_storage_round_trip_keeps_every_weight_within_its_format_step(tmp_path, storage, weight_bytes, vector_bytes):
    torch.manual_seed(0)
    model = StackedHourglass(14, num_stacks=2, width=32, depth=2)
    with torch.no_grad():  # non-trivial BN statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
    path = save_weights(model, tmp_path / "m", _sidecar(model), storage)
    assert json.loads(path.with_suffix(".json").read_text())["storage_dtype"] == storage
    stored = read_state_dict(path)
    original = model.state_dict()
    assert stored.keys() == original.keys()
    for k, v in original.items():
        if not v.is_floating_point():
            assert torch.equal(stored[k], v), k
            continue
        error = (stored[k].float() - v).abs()
        if storage == "int8" and v.dim() >= 2:  # half a step of the output channel's scale
            step = v.abs().flatten(1).amax(1) / 127
            assert (error <= step.view(-1, *[1] * (v.dim() - 1)) / 2 + 1e-7).all(), k
        elif storage == "float32":
            assert torch.equal(stored[k], v), k
        else:
            assert (error <= v.abs() * 2**-11 + 1e-7).all(), k  # fp16 rounding
    from safetensors.torch import load_file

    raw = load_file(str(path))  # as stored: int8 weights + fp32 scales, the rest in the storage's float type
    for k, v in original.items():
        if v.is_floating_point():
            assert raw[k].element_size() == (weight_bytes if v.dim() >= 2 else vector_bytes), k
    assert len(raw) - len(original) == (sum(v.dim() >= 2 for v in original.values()) if storage == "int8" else 0)
    # the stored model computes nearly what the original does
    loaded, _ = load_model(str(path))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out, ref = loaded(x)[-1], model.eval()(x)[-1]
    assert (out - ref).abs().max() <= (0.05 if storage == "int8" else 1e-2) * ref.abs().max()


def test_unknown_storage_is_refused(tmp_path):
    model = StackedHourglass(14, num_stacks=1, width=16, depth=1)
    with pytest.raises(ValueError, match="storage must be one of float32, float16, int8"):
        save_weights(model, tmp_path / "m", _sidecar(model), "int4")
