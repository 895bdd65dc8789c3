"""Weight averaging (SWA, Izmailov et al. 2018) over the end points of warm-restart cycles.

Each cosine cycle of a warm restart ends near a different point of the same basin; their mean often sits
lower in it than either. Averaged BatchNorm statistics are not the statistics of the averaged weights, so
they are recomputed on training crops afterwards (``torch.optim.swa_utils.update_bn``). On the LSPET default
the mean of two restarts scored below both (docs/BENCHMARKS.md, 2026-12-04): its EMA already averages.
"""
from __future__ import annotations

from pathlib import Path

import torch


def average_weights(paths: list[str | Path]) -> tuple[torch.nn.Module, dict]:
    """The element-wise mean of several weight files of one architecture.

    Float tensors are averaged; integer buffers (BatchNorm's batch counters) come from the first file.
    Returns (model in eval mode, the first file's sidecar with ``averaged_from`` added).
    """
    from ..io import load_model

    if len(paths) < 2:
        raise ValueError(f"averaging needs two or more weight files, got {len(paths)}")
    model, sidecar = load_model(str(paths[0]))
    total = {k: v.clone().double() if v.is_floating_point() else v.clone() for k, v in model.state_dict().items()}
    for path in paths[1:]:
        other, other_sidecar = load_model(str(path))
        if other_sidecar["model"] != sidecar["model"]:
            raise ValueError(f"{path}: architecture {other_sidecar['model']} differs from {paths[0]}'s "
                             f"{sidecar['model']}; only weights of one architecture can be averaged")
        for k, v in other.state_dict().items():
            if v.is_floating_point():
                total[k] += v.double()
    state = {k: (v / len(paths)).float() if v.is_floating_point() else v for k, v in total.items()}
    model.load_state_dict(state)
    return model.eval(), {**sidecar, "averaged_from": [str(p) for p in paths]}
