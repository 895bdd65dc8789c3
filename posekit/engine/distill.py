"""Knowledge distillation for top-down heatmap models (``train.teacher``).

A trained teacher's heatmaps are blended into the student's targets:

    target = (1 - a) * ground truth + a * teacher,        a = train.teacher_weight

For the squared-error losses used here this equals a * ||s - teacher||^2 + (1 - a) * ||s - gt||^2
up to a constant: the loss of Fast Pose Distillation (Zhang et al., CVPR 2019). Joints without a
label keep weight 0; the teacher only reshapes the maps of labelled joints (on LSPET, where a
twentieth of the people carry swapped sides, that also softens labels the teacher disagrees with).

The teacher runs once, before training, on every training person's plain crop (its own input
size, codec and padding; flip-tested, optionally at several scales), and its maps are kept as uint8
with the affine from image pixels to its heatmap pixels. Each augmented sample then warps its person's maps into the
student's heatmap grid through the sample's own affine (scale, rotation, shift, flip, half-body
and portrait crops are all affines of the image), so distilling costs the student's training
almost nothing per step; the teacher pass over LSPET's 8,500 people takes minutes. Regions the
plain crop did not show (a sample zoomed out past it) get zero teacher maps.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from ..codecs.heatmap import BeliefMapCodec, build_codec
from ..data.topdown import IMAGENET_MEAN, IMAGENET_STD, TopDownDataset
from ..inference.topdown import average_heatmaps, check_scales, scaled_batches
from ..io import load_model, resolve_model


def heatmap_affine(codec, affine: np.ndarray) -> np.ndarray:
    """(2,3) image pixels -> the codec's heatmap pixels, from the (2,3) image -> input-crop affine."""
    return np.diag(codec._scale()) @ np.asarray(affine, np.float64)


class TeacherMaps:
    """A teacher's heatmaps of the people of one training set, warped onto each augmented sample.

    Args:
        maps: (N,K,h,w) uint8, heatmaps x 255 for the N people in dataset order.
        affines: (N,2,3) image pixels -> pixels of those maps.
        student_codec: the student's heatmap codec (grid and, for CPM, the background channel).
        flip_index: the skeleton's left/right permutation.
        weight: a, the teacher's share of the target.
    """

    def __init__(self, maps: np.ndarray, affines: np.ndarray, student_codec, flip_index, weight: float):
        _check_weight(weight)
        self.maps, self.affines = maps, np.asarray(affines, np.float64)
        self.codec = student_codec
        self.flip_index = np.asarray(flip_index, np.intp)
        self.weight = float(weight)

    def __len__(self) -> int:
        return len(self.maps)

    def warp(self, index: int, affine: np.ndarray, flip: bool) -> np.ndarray:
        """Person ``index``'s teacher maps in a crop with image -> crop ``affine`` (mirrored if ``flip``):
        (K,h,w) float32 on the student's heatmap grid, channels in the crop's (swapped) order."""
        to_student = heatmap_affine(self.codec, affine)
        to_teacher = np.vstack([self.affines[index], [0.0, 0.0, 1.0]])
        m = to_student @ np.linalg.inv(to_teacher)  # teacher heatmap -> student heatmap
        size = tuple(self.codec.heatmap_size)
        # one plane at a time: cv2's many-channel path rounds the sampling positions to 1/32 pixel
        warped = np.stack([cv2.warpAffine(plane.astype(np.float32), m, size, flags=cv2.INTER_LINEAR,
                                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                           for plane in self.maps[index]]) * np.float32(1.0 / 255.0)
        return warped[self.flip_index] if flip else warped

    def blend(self, index: int, targets: dict, affine: np.ndarray, flip: bool) -> dict:
        """The codec's ``targets`` (``heatmaps`` (K',h,w), ``weights`` (K',)) with the teacher's share mixed in;
        a CPM background map (last channel) is rebuilt from the blended parts as the codec builds it."""
        teacher = self.warp(index, affine, flip)
        k = len(teacher)
        heatmaps = targets["heatmaps"].copy()
        heatmaps[:k] = (1.0 - self.weight) * heatmaps[:k] + self.weight * teacher
        if isinstance(self.codec, BeliefMapCodec):
            heatmaps[k] = 1.0 - (heatmaps[:k] * targets["weights"][:k, None, None]).max(0)
        return {**targets, "heatmaps": heatmaps}

    # -- the teacher pass
    @classmethod
    def compute(cls, teacher: str, dataset: TopDownDataset, weight: float, flip: bool = True,
                scales: Sequence[float] = (1.0,), amp_dtype: torch.dtype | None = None,
                device: str | torch.device = "cpu", batch_size: int = 32, workers: int = 0,
                cache: str | Path | None = None) -> "TeacherMaps":
        """Run ``teacher`` (zoo name or weights path) on the plain crop of every person of ``dataset``.

        ``scales``: the teacher's multi-scale test (box-padding multipliers, the first its own crop), as
        :func:`posekit.inference.topdown.predict_dataset` runs it.
        ``cache``: a folder; maps computed for the same teacher file, people, flip setting and scales are
        read back from it instead of recomputed (so a resumed run does not repeat the pass).
        """
        _check_weight(weight)
        path = resolve_model(teacher)
        scales = check_scales(scales)
        key = _cache_key(path, dataset, flip, scales)
        if cache is not None:
            found = _read_cache(Path(cache), key)
            if found is not None:
                return cls(*found, dataset.codec, dataset.skeleton.flip_index, weight)
        model, sidecar = load_model(str(path), device)
        _check_teacher(path, sidecar, dataset.skeleton.name)
        device = torch.device(device)
        model = model.to(memory_format=torch.channels_last)
        codec = build_codec(**sidecar["codec"])
        plain = TopDownDataset(dataset.coco, codec, None, sidecar.get("padding", 1.25), dataset.people)
        k = dataset.skeleton.num_keypoints
        maps = np.empty((len(plain), k, codec.heatmap_size[1], codec.heatmap_size[0]), np.uint8)
        affines = np.empty((len(plain), 2, 3), np.float64)
        start = 0
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            for batches in scaled_batches(plain, scales, batch_size, workers):
                out = average_heatmaps(model, codec, [b["image"] for b in batches],
                                       [b["affine"].numpy() for b in batches], dataset.skeleton.flip_index, flip)
                n = len(out)
                maps[start:start + n] = (out[:, :k].clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
                affines[start:start + n] = [heatmap_affine(codec, a) for a in batches[0]["affine"].numpy()]
                start += n
        if cache is not None:
            _write_cache(Path(cache), key, maps, affines)
        return cls(maps, affines, dataset.codec, dataset.skeleton.flip_index, weight)


def _check_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"train.teacher_weight must lie in [0, 1], got {weight}")


def _check_teacher(path: Path, sidecar: dict, skeleton: str) -> None:
    if sidecar.get("task", "topdown") != "topdown":
        raise ValueError(f"train.teacher {path}: a {sidecar.get('task')} model; distillation needs a top-down one")
    if sidecar["skeleton"] != skeleton:
        raise ValueError(f"train.teacher {path}: skeleton {sidecar['skeleton']!r}, the student's is {skeleton!r}")
    norm = sidecar.get("normalisation", {})
    if (tuple(norm.get("mean", IMAGENET_MEAN)), tuple(norm.get("std", IMAGENET_STD))) != (IMAGENET_MEAN, IMAGENET_STD):
        raise ValueError(f"train.teacher {path}: its input normalisation {norm} is not the student's (ImageNet)")


def _cache_key(path: Path, dataset: TopDownDataset, flip: bool, scales: tuple[float, ...]) -> str:
    digest = hashlib.sha256(path.read_bytes())
    # one scale of 1.0 keeps the key of caches written before teacher scales existed
    extra = [] if scales == (1.0,) else [list(scales)]
    digest.update(json.dumps([flip, [p.id for p in dataset.people], *extra]).encode())
    return digest.hexdigest()


def _read_cache(folder: Path, key: str):
    meta = folder / "teacher_maps.json"
    if not meta.exists() or json.loads(meta.read_text()).get("key") != key:
        return None
    return np.load(folder / "teacher_maps.npy", mmap_mode="r"), np.load(folder / "teacher_affines.npy")


def _write_cache(folder: Path, key: str, maps: np.ndarray, affines: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (("teacher_maps.npy", maps), ("teacher_affines.npy", affines)):
        tmp = folder / f"{name}.tmp.npy"
        np.save(tmp, array)
        tmp.replace(folder / name)
    (folder / "teacher_maps.json").write_text(json.dumps({"key": key, "people": len(maps)}))
