"""All model factories in one plain dict: ``MODELS[name](num_keypoints=K, **params)``."""
from __future__ import annotations

from torch import nn

from . import cpm, cpn, hourglass, openpose, simplebaseline, vitpose

MODELS = {
    **simplebaseline.MODELS, **vitpose.MODELS, **cpm.MODELS, **hourglass.MODELS, **cpn.MODELS, **openpose.MODELS,
}


def build_model(name: str, num_keypoints: int, **params) -> nn.Module:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name](num_keypoints=num_keypoints, **params)
