"""On-the-fly synthetic scenes as a ``torch.utils.data.Dataset`` (no files)."""
from __future__ import annotations

import numpy as np
import torch

from .scene import SynthConfig, pose_library, render_scene

_CHANNELS_FIRST = ("image", "normals")
_PER_IMAGE = ("image", "instances", "parts", "depth", "normals", "image_id", "K", "camera_R", "camera_t")


class SynthDataset(torch.utils.data.Dataset):
    """Item ``i`` is ``render_scene(seed, i, config)`` (a dict of numpy arrays), passed
    through ``transform`` when one is given.

    Works with ``num_workers > 0``: items depend only on (seed, i), and the mocap
    library is loaded here so that forked workers share it. Batch raw items with
    :meth:`collate`.
    """

    def __init__(self, length: int, seed: int = 0, config: SynthConfig = SynthConfig(), transform=None):
        self.length, self.seed, self.config, self.transform = length, seed, config, transform
        pose_library(config)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        if not 0 <= i < self.length:
            raise IndexError(f"scene {i} out of range for {self.length} scenes")
        sample = render_scene(self.seed, i, self.config)
        return self.transform(sample) if self.transform is not None else sample

    @staticmethod
    def collate(batch: list[dict]) -> dict:
        """Stack per-image arrays into tensors (``image`` (B, 3, H, W) uint8, ``normals``
        (B, 3, H, W), the other maps (B, H, W)); per-person arrays become lists of
        tensors and ``pose_source`` a list of lists of strings."""
        out = {}
        for key in batch[0]:
            values = [b[key] for b in batch]
            if key == "pose_source":
                out[key] = [list(v) for v in values]
            elif key in _PER_IMAGE:
                stacked = torch.from_numpy(np.stack(values))
                out[key] = stacked.permute(0, 3, 1, 2) if key in _CHANNELS_FIRST else stacked
            else:
                out[key] = [torch.from_numpy(v) for v in values]
        return out
