"""Knowledge distillation for top-down heatmap models (``train.teacher``).

A trained teacher sees the student's augmented crops; its heatmaps, resampled onto the
student's heatmap grid, are blended into the targets:

    target = (1 - a) * ground truth + a * teacher,        a = train.teacher_weight

For the squared-error losses used here this equals a * ||s - teacher||^2 + (1 - a) * ||s - gt||^2
up to a constant, the loss of Fast Pose Distillation (Zhang et al., CVPR 2019). Joints without a
label keep weight 0; the teacher only reshapes the maps of labelled joints (on LSPET, where a
twentieth of the people carry swapped sides, that is also a soft label cleaner).

The teacher may have another input size, heatmap size and codec than the student: the crop is
resized to the teacher's input (corner-aligned), and each student heatmap pixel samples the
teacher's map at the same crop position through both codecs' pixel mappings.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..codecs.heatmap import BeliefMapCodec, build_codec, flip_test
from ..data.topdown import IMAGENET_MEAN, IMAGENET_STD
from ..io import load_model, resolve_model


class Teacher:
    """A frozen top-down model producing heatmaps on a student's grid.

    ``Teacher(name_or_path, student_codec, skeleton)(images) -> (B,K,h,w)`` for normalised
    student crops ``images`` (B,3,H,W); K counts keypoints only (a CPM teacher's background
    map is dropped).
    """

    def __init__(self, name_or_path: str, student_codec, skeleton, flip: bool = True,
                 amp_dtype: torch.dtype | None = None, device: str | torch.device = "cpu"):
        path = resolve_model(name_or_path)
        self.model, sidecar = load_model(str(path), device)
        self.model = self.model.to(memory_format=torch.channels_last)
        for p in self.model.parameters():
            p.requires_grad_(False)
        if sidecar.get("task", "topdown") != "topdown":
            raise ValueError(f"train.teacher {path}: a {sidecar.get('task')} model; distillation needs a top-down one")
        if sidecar["skeleton"] != skeleton.name:
            raise ValueError(f"train.teacher {path}: skeleton {sidecar['skeleton']!r}, the student's is {skeleton.name!r}")
        norm = sidecar.get("normalisation", {})
        if (tuple(norm.get("mean", IMAGENET_MEAN)), tuple(norm.get("std", IMAGENET_STD))) != (IMAGENET_MEAN, IMAGENET_STD):
            raise ValueError(f"train.teacher {path}: its input normalisation {norm} is not the student's (ImageNet)")
        self.codec = build_codec(**sidecar["codec"])
        self.num_keypoints = skeleton.num_keypoints
        self.flip_index = list(skeleton.flip_index)
        if isinstance(self.codec, BeliefMapCodec):  # the background map mirrors onto itself
            self.flip_index.append(len(self.flip_index))
        self.flip = flip
        self.amp_dtype = amp_dtype
        self.name = str(path)
        self.grid = _sampling_grid(student_codec, self.codec)

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        size = tuple(self.codec.input_size[::-1])  # (H, W)
        if images.shape[-2:] != size:
            images = F.interpolate(images.float(), size=size, mode="bilinear", align_corners=True)
        images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            if self.flip:
                maps = flip_test(self.model, images, self.flip_index, self.codec.flip_shift)
            else:
                out = self.model(images)
                maps = out[-1] if isinstance(out, (list, tuple)) else out
        maps = maps[:, :self.num_keypoints].float()
        grid = self.grid.to(maps.device).expand(maps.shape[0], -1, -1, -1)
        return F.grid_sample(maps, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def _sampling_grid(student_codec, teacher_codec) -> torch.Tensor:
    """(1,h,w,2) grid_sample coordinates: student heatmap pixel -> the teacher heatmap position it shows."""
    w_s, h_s = student_codec.heatmap_size
    in_s = np.asarray(student_codec.input_size, np.float64)  # W, H
    in_t = np.asarray(teacher_codec.input_size, np.float64)
    hm_t = np.asarray(teacher_codec.heatmap_size, np.float64)
    u = np.arange(w_s, dtype=np.float64)
    v = np.arange(h_s, dtype=np.float64)
    crop_x = u / student_codec._scale()[0] * (in_t[0] - 1) / (in_s[0] - 1)  # teacher input pixels
    crop_y = v / student_codec._scale()[1] * (in_t[1] - 1) / (in_s[1] - 1)
    tx = crop_x * teacher_codec._scale()[0]  # teacher heatmap pixels
    ty = crop_y * teacher_codec._scale()[1]
    gx = 2 * tx / (hm_t[0] - 1) - 1
    gy = 2 * ty / (hm_t[1] - 1) - 1
    grid = np.stack(np.meshgrid(gx, gy, indexing="xy"), -1)
    return torch.from_numpy(grid).float()[None]


def blend_targets(targets: dict, teacher_maps: torch.Tensor, weight: float, belief: bool) -> dict:
    """Mix the teacher's maps (B,K,h,w) into ``targets['heatmaps']``; a belief-map target's background
    (its last channel) is recomputed from the blended parts as the codec does."""
    gt = targets["heatmaps"]
    k = teacher_maps.shape[1]
    parts = (1.0 - weight) * gt[:, :k] + weight * teacher_maps.to(gt.dtype)
    if belief:
        labelled = targets["weights"][:, :k, None, None]
        background = 1.0 - (parts * labelled).amax(1, keepdim=True)
        parts = torch.cat([parts, background], 1)
    return {**targets, "heatmaps": parts}
