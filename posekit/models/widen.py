"""Function-preserving widening (Chen, Goodfellow, Shlens, "Net2Net", ICLR 2016: Net2WiderNet).

:func:`widen_state_dict` turns the weights of a trained network into weights for a wider network of
the same design (more channels in some layers) that computes exactly the same function, so training
the wider network starts where the narrow one ended instead of from scratch.

Every channel count that grows, n -> m, gets one mapping g: the m new channels are the n old ones
followed by m - n copies of randomly chosen old ones. A layer producing such channels copies the
producing weights (and bias, and BatchNorm parameters and statistics) of g(j) into channel j; a layer
consuming them splits each old input weight among its copies with random fractions that sum to one,
so the sum it computes is unchanged while the copies get different gradients (breaking the symmetry).
One mapping per (n, m) pair keeps every producer and consumer of an activation consistent, including
across residual additions.

Concatenations: a layer whose input joins several activations along channels cannot be widened from its
shape alone (the copies must be drawn within each piece). A model declares such layers with an
``input_segments()`` method: {layer name: its input's pieces in order, each the name of the layer that
produces it (its output channels) or a fixed channel count}; each piece is then widened on its own.

Supported layers: Conv2d (ungrouped), ConvTranspose2d (ungrouped), Linear, BatchNorm, PReLU. Any other
layer whose tensors change shape is refused by name.
"""
from __future__ import annotations

import torch
from torch import nn

_PER_CHANNEL = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.PReLU)  # one value per channel


def widen_state_dict(model: nn.Module, state: dict[str, torch.Tensor], seed: int = 0,
                     check: tuple[nn.Module, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """``state`` of a narrower network of ``model``'s design -> a state dict for ``model``, same function.

    Tensors whose shapes already match are kept as they are; with no mismatch ``state`` comes back unchanged.
    ``check``: (the narrow network, an example input): both networks run on it in eval mode and their final
    outputs must agree (the last of a list of stage outputs, so the narrow network may also be shallower).
    Do check when the design may join channels by a concatenation it does not declare (``input_segments``):
    the per-count mappings cannot follow it, and the check then refuses the result instead of training on it.
    """
    target = model.state_dict()
    missing = sorted(set(target) - set(state))
    if missing:
        raise ValueError(f"weights lack {len(missing)} of the model's tensors, e.g. {missing[:3]}")
    changed = {k for k in target if state[k].shape != target[k].shape}
    if not changed:
        return state
    for k in changed:
        old, new = state[k].shape, target[k].shape
        if len(old) != len(new) or any(a > b for a, b in zip(old, new)):
            raise ValueError(f"{k}: weights of shape {tuple(old)} cannot widen to {tuple(new)}")
    generator = torch.Generator().manual_seed(seed)
    mappings: dict[tuple[int, int], torch.Tensor] = {}

    def mapping(n: int, m: int) -> torch.Tensor:
        if (n, m) not in mappings:
            mappings[(n, m)] = torch.cat([torch.arange(n), torch.randint(0, n, (m - n,), generator=generator)])
        return mappings[(n, m)]

    def split(weight: torch.Tensor, dim: int, m: int) -> torch.Tensor:
        """Copy old input channels along ``dim`` to m, each old weight shared among its copies."""
        n = weight.shape[dim]
        if n == m:
            return weight
        g = mapping(n, m)
        copied = weight.index_select(dim, g)
        share = torch.rand(copied.shape, generator=generator, dtype=copied.dtype) + 0.5
        totals = torch.zeros_like(weight).index_add_(dim, g, share)
        return copied * share / totals.index_select(dim, g)

    def produce(tensor: torch.Tensor, m: int) -> torch.Tensor:
        n = tensor.shape[0]
        return tensor if n == m else tensor.index_select(0, mapping(n, m))

    modules = dict(model.named_modules())
    segments = model.input_segments() if hasattr(model, "input_segments") else {}

    def out_channels(layer: str, weights: dict[str, torch.Tensor]) -> int:
        return weights[f"{layer}.weight"].shape[1 if isinstance(modules[layer], nn.ConvTranspose2d) else 0]

    def split_pieces(weight: torch.Tensor, dim: int, m: int, layer: str) -> torch.Tensor:
        """:func:`split` for each declared piece of ``layer``'s input on its own."""
        pieces = segments[layer]
        old = [p if isinstance(p, int) else out_channels(p, state) for p in pieces]
        new = [p if isinstance(p, int) else out_channels(p, target) for p in pieces]
        if sum(old) != weight.shape[dim] or sum(new) != m:
            raise ValueError(f"{layer}: declared input pieces {pieces} give {sum(old)} -> {sum(new)} channels, "
                             f"the weights have {weight.shape[dim]} -> {m}")
        return torch.cat([split(w, dim, n) for w, n in zip(weight.split(old, dim), new)], dim)

    out = dict(state)
    done = set()
    for name, module in modules.items():
        prefix = f"{name}." if name else ""
        keys = [prefix + k for k, _ in (*module.named_parameters(recurse=False), *module.named_buffers(recurse=False))]
        if not changed.intersection(keys):
            continue
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and getattr(module, "groups", 1) == 1:
            out_dim = 1 if isinstance(module, nn.ConvTranspose2d) else 0
            weight = state[prefix + "weight"]
            shape = target[prefix + "weight"].shape
            in_dim = 1 - out_dim
            if name in segments:
                weight = split_pieces(weight, in_dim, shape[in_dim], name)
            else:
                weight = split(weight, in_dim, shape[in_dim])
            out[prefix + "weight"] = produce(weight.transpose(0, out_dim), shape[out_dim]).transpose(0, out_dim)
            if module.bias is not None:
                out[prefix + "bias"] = produce(state[prefix + "bias"], shape[out_dim])
        elif isinstance(module, _PER_CHANNEL):
            for key in keys:
                out[key] = state[key] if state[key].dim() == 0 else produce(state[key], target[key].shape[0])
        else:
            raise ValueError(f"{name or 'the model'} ({type(module).__name__}): cannot widen this layer")
        done.update(keys)
    left = changed - done
    if left:
        raise ValueError(f"cannot widen {sorted(left)[:3]}: not the tensors of a supported layer")
    if check is not None:
        _check_same_function(model, out, *check)
    return out


def _check_same_function(model: nn.Module, state: dict, narrow: nn.Module, example: torch.Tensor) -> None:
    import copy

    wide = copy.deepcopy(model).eval()
    wide.load_state_dict(state)
    with torch.no_grad():
        a, b = _final(narrow.eval()(example)), _final(wide(example))
    if not torch.allclose(a, b, rtol=1e-3, atol=1e-4 * float(a.abs().max())):
        raise ValueError(f"widening does not preserve this {type(model).__name__}'s function (max difference "
                         f"{float((a - b).abs().max()):.3g}): channels joined by a concatenation the model does not "
                         f"declare (input_segments) cannot be widened")


def _final(outputs) -> torch.Tensor:
    """A model's final prediction as one vector: the tensor, the last of a list of stages, or (a dict of
    such lists, as OpenPose returns) the last of each."""
    if isinstance(outputs, torch.Tensor):
        return outputs.flatten()
    if isinstance(outputs, dict):
        return torch.cat([_final(v) for v in outputs.values()])
    return _final(outputs[-1])
