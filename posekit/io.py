"""Reading and writing weights (safetensors + JSON sidecar) and results.

A model file ``NAME.safetensors`` always travels with ``NAME.json``: the
architecture (factory name and its arguments), skeleton, codec, input size,
normalisation, training data, the metric reached and the command that trained
it. Loading never unpickles: safetensors is plain tensors, and torch files are
read with ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

ZOO_DIR = Path(__file__).parent / "zoo"
STORAGE = ("float32", "float16", "int8")
INT8_SCALE = ".int8_scale"  # key suffix of an int8 weight's per-output-channel scales


def _quantize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, ...) float -> int8 values and (out,) fp32 scales, symmetric per output channel."""
    scale = weight.abs().amax(dim=tuple(range(1, weight.dim()))) / 127.0
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    shape = (-1,) + (1,) * (weight.dim() - 1)
    return (weight / scale.view(shape)).round().clamp(-127, 127).to(torch.int8), scale.float()


def _dequantize(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace each int8 weight and its scales by the fp32 weight they store."""
    for key in [k for k in state if k.endswith(INT8_SCALE)]:
        scale = state.pop(key)
        name = key[: -len(INT8_SCALE)]
        q = state[name]
        state[name] = q.float() * scale.view((-1,) + (1,) * (q.dim() - 1))
    return state


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file or a weights-only torch file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file missing")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return _dequantize(load_file(str(path)))
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def save_weights(model: torch.nn.Module, path: str | Path, sidecar: dict, storage: str = "float32") -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar atomically.

    ``storage``: ``float32``; ``float16`` (half the size); or ``int8`` (a quarter): every weight
    with two or more dimensions stored as int8 with one fp32 scale per output channel (symmetric,
    scale = max |w| / 127, so each value is off by at most half a scale step), the rest in fp16.
    :func:`read_state_dict` turns int8 weights back into floats.
    """
    from safetensors.torch import save_file

    if storage not in STORAGE:
        raise ValueError(f"storage must be one of {', '.join(STORAGE)}, got {storage!r}")
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if not v.is_floating_point() or storage == "float32":
            state[k] = v
        elif storage == "int8" and v.dim() >= 2:
            state[k], state[k + INT8_SCALE] = _quantize(v.float())
        else:
            state[k] = v.half()
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp))
    tmp.chmod(0o644)  # safetensors writes owner-only files; weights are for sharing
    tmp.replace(path)
    side = path.with_suffix(".json")
    side.with_suffix(".json.tmp").write_text(json.dumps({**sidecar, "storage_dtype": storage}, indent=2))
    side.with_suffix(".json.tmp").replace(side)
    return path


def resolve_model(name_or_path: str) -> Path:
    """A weights path from a file path or a zoo name (``default`` is the bundled default)."""
    p = Path(name_or_path)
    if p.suffix in (".safetensors", ".json") and p.exists():
        return p.with_suffix(".safetensors")
    aliases = json.loads((ZOO_DIR / "aliases.json").read_text()) if (ZOO_DIR / "aliases.json").exists() else {}
    name = aliases.get(name_or_path, name_or_path)
    candidate = ZOO_DIR / f"{name}.safetensors"
    if candidate.exists():
        return candidate
    known = sorted(q.stem for q in ZOO_DIR.glob("*.safetensors")) + sorted(aliases)
    raise FileNotFoundError(f"model {name_or_path!r}: not a weights file and not in the zoo (known: {', '.join(known) or 'none'})")


def load_model(name_or_path: str, device: str | torch.device = "cpu"):
    """Build the model described by the sidecar and load its weights. Returns (model in eval mode, sidecar dict)."""
    from .models import build_model

    path = resolve_model(name_or_path)
    side_path = path.with_suffix(".json")
    if not side_path.exists():
        raise FileNotFoundError(f"{path}: sidecar {side_path.name} missing (it says how to build the model)")
    sidecar = json.loads(side_path.read_text())
    model = build_model(sidecar["model"]["name"], num_keypoints=sidecar["num_keypoints"], **sidecar["model"].get("params", {}))
    state = {k: v.float() if v.is_floating_point() else v for k, v in read_state_dict(path).items()}
    model.load_state_dict(state)
    return model.to(device).eval(), sidecar


def atomic_torch_save(obj, path: str | Path) -> None:
    """torch.save to a temp file then rename, so a killed run never leaves half a checkpoint."""
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(obj, tmp)
    tmp.replace(path)
