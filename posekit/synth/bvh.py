"""BVH motion capture: parser, forward kinematics, retargeting onto the body model,
and the Bandai-Namco-Research-Motiondataset-1 pose library.

BVH conventions honoured: channels are applied in the order listed, rotations
as ``R = R_first @ R_second @ R_third`` in degrees; a joint's position channels
replace its OFFSET (as the root's do); ``.bvh`` and ``.bvh.gz`` are read.

Retargeting transfers rotations, not positions, so any :class:`BodyShape` can
wear any clip. For each mapped joint the body's global frame is
``B = G_mocap @ C`` with a constant ``C`` fixed by two facts: the body's rest bone
direction must map onto the mocap bone direction, and one named body axis onto a
named mocap axis (the twist reference, read off the data's skeleton once).
"""
from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .body import JOINTS, NUM_JOINTS, PARENTS, BodyShape, forward_kinematics, rest_offsets
from .rotations import axis_rotation, frame_from_two_axes, yaw_of


@dataclass
class BvhMotion:
    """A parsed BVH file.

    Attributes:
        names: joint names (J,), parents before children.
        parents: parent index per joint, -1 for the root.
        offsets: (J, 3) OFFSETs, in the file's units.
        channels: channel names per joint, e.g. ``("Xposition", ..., "Yrotation")``.
        end_sites: (J, 3) End Site offset per joint, NaN where a joint has none.
        values: (F, C) channel values per frame, in channel order.
        frame_time: seconds per frame.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_sites: np.ndarray
    values: np.ndarray
    frame_time: float

    @property
    def num_frames(self) -> int:
        return self.values.shape[0]

    def local_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Local rotations (F, J, 3, 3) and translations (F, J, 3) of every joint."""
        f = self.num_frames
        rotations = np.tile(np.eye(3), (f, len(self.names), 1, 1))
        translations = np.tile(self.offsets, (f, 1, 1)).astype(np.float64)
        column = 0
        for j, chans in enumerate(self.channels):
            for name in chans:
                value = self.values[:, column]
                column += 1
                axis, kind = name[0].lower(), name[1:].lower()
                if kind == "rotation":
                    rotations[:, j] = rotations[:, j] @ axis_rotation(axis, np.radians(value))
                elif kind == "position":
                    translations[:, j, "xyz".index(axis)] = value
                else:
                    raise ValueError(f"unknown BVH channel {name!r}")
        return rotations, translations

    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Global joint positions (F, J, 3) and rotations (F, J, 3, 3)."""
        rotations, translations = self.local_transforms()
        return forward_kinematics(rotations, translations, self.parents)

    def bone_axes(self) -> np.ndarray:
        """Unit bone direction (J, 3) in each joint's local frame: towards its first child
        with a non-zero offset, else its End Site, else along its own offset."""
        axes = np.zeros((len(self.names), 3))
        for j in range(len(self.names)):
            children = [c for c, p in enumerate(self.parents) if p == j and np.linalg.norm(self.offsets[c]) > 0]
            if children:
                axis = self.offsets[children[0]]
            elif np.isfinite(self.end_sites[j]).all() and np.linalg.norm(self.end_sites[j]) > 0:
                axis = self.end_sites[j]
            else:
                axis = self.offsets[j]
            axes[j] = axis / np.linalg.norm(axis)
        return axes


def parse_bvh(text: str) -> BvhMotion:
    """Parse the text of a BVH file."""
    head, sep, motion = text.partition("MOTION")
    if not sep:
        raise ValueError("not a BVH file: no MOTION section")
    tokens = head.split()
    names, parents, offsets, channels, end_sites = [], [], [], [], []
    stack: list[int] = []  # open joints; -2 marks an End Site block
    current = -1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append(np.zeros(3))
            channels.append(())
            end_sites.append(np.full(3, np.nan))
            current = len(names) - 1
            i += 2
        elif tok == "End":
            current = -2
            i += 2
        elif tok == "{":
            stack.append(current)
            i += 1
        elif tok == "}":
            stack.pop()
            current = stack[-1] if stack else -1
            i += 1
        elif tok == "OFFSET":
            value = np.array(tokens[i + 1:i + 4], dtype=np.float64)
            if current == -2:
                end_sites[stack[-2]] = value
            else:
                offsets[current] = value
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[current] = tuple(tokens[i + 2:i + 2 + n])
            i += 2 + n
        else:
            i += 1
    lines = motion.strip().split("\n", 2)
    num_frames = int(lines[0].split(":")[1])
    frame_time = float(lines[1].split(":")[1])
    num_channels = sum(len(c) for c in channels)
    values = np.array(lines[2].split() if len(lines) > 2 else [], dtype=np.float64)
    if values.size != num_frames * num_channels:
        raise ValueError(f"BVH motion has {values.size} values, expected {num_frames} x {num_channels}")
    return BvhMotion(
        tuple(names), tuple(parents), np.array(offsets), tuple(channels), np.array(end_sites),
        values.reshape(num_frames, num_channels), frame_time,
    )


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a ``.bvh`` or ``.bvh.gz`` file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return parse_bvh(f.read())


# ----------------------------------------------------------------------------- retargeting
# body joint -> (mocap joint, body twist axis, the mocap local axis it corresponds to).
# Read off the Bandai skeleton: spine joints have local +z to the actor's left, the hips -y,
# the left arm +z forward (the right arm -z), both legs +y to the left.
BANDAI_MAP = {
    "pelvis": ("Hips", "+x", "-y"),
    "spine": ("Spine", "+x", "+z"),
    "chest": ("Chest", "+x", "+z"),
    "neck": ("Neck", "+x", "+z"),
    "head": ("Head", "+x", "+z"),
    "left_collar": ("Shoulder_L", "+z", "+z"),
    "left_shoulder": ("UpperArm_L", "+z", "+z"),
    "left_elbow": ("LowerArm_L", "+z", "+z"),
    "left_wrist": ("Hand_L", "+z", "+z"),
    "right_collar": ("Shoulder_R", "+z", "-z"),
    "right_shoulder": ("UpperArm_R", "+z", "-z"),
    "right_elbow": ("LowerArm_R", "+z", "-z"),
    "right_wrist": ("Hand_R", "+z", "-z"),
    "left_hip": ("UpperLeg_L", "+x", "+y"),
    "left_knee": ("LowerLeg_L", "+x", "+y"),
    "left_ankle": ("Foot_L", "+x", "+y"),
    "right_hip": ("UpperLeg_R", "+x", "+y"),
    "right_knee": ("LowerLeg_R", "+x", "+y"),
    "right_ankle": ("Foot_R", "+x", "+y"),
}


def _axis(spec: str) -> np.ndarray:
    v = np.zeros(3)
    v["xyz".index(spec[1])] = 1.0 if spec[0] == "+" else -1.0
    return v


def body_bone_axes() -> np.ndarray:
    """Unit rest bone direction (J, 3) of each body joint towards its first child
    (independent of the body shape); zero for leaf joints."""
    offsets = rest_offsets(BodyShape())
    axes = np.zeros((NUM_JOINTS, 3))
    for j in range(NUM_JOINTS):
        children = [c for c, p in enumerate(PARENTS) if p == j]
        if children:
            axes[j] = offsets[children[0]] / np.linalg.norm(offsets[children[0]])
    return axes


def retarget(motion: BvhMotion, mapping: dict = BANDAI_MAP) -> np.ndarray:
    """Body-model local rotations (F, J, 3, 3) reproducing ``motion``'s bone directions.

    Joint 0 holds the pelvis's global orientation (heading included); joints
    missing from ``mapping`` (the leaves) keep their parent's frame.
    """
    _, global_rot = motion.global_transforms()
    mocap_axes = motion.bone_axes()
    body_axes = body_bone_axes()
    f = motion.num_frames
    frames = np.zeros((f, NUM_JOINTS, 3, 3))
    for j, name in enumerate(JOINTS):
        if name in mapping:
            mocap_name, body_twist, mocap_twist = mapping[name]
            m = motion.names.index(mocap_name)
            body_frame = frame_from_two_axes(body_axes[j], _axis(body_twist))
            mocap_frame = frame_from_two_axes(mocap_axes[m], _axis(mocap_twist))
            frames[:, j] = global_rot[:, m] @ (mocap_frame @ body_frame.T)
        else:
            frames[:, j] = frames[:, PARENTS[j]]
    local = frames.copy()
    for j in range(1, NUM_JOINTS):
        local[:, j] = np.swapaxes(frames[:, PARENTS[j]], -1, -2) @ frames[:, j]
    return local


# ----------------------------------------------------------------------------- Bandai library
TEST_STYLES = ("tired", "proud")  # clip-level split: every clip of these styles is test


def clip_style(path: str | Path) -> str:
    """Style of a Bandai clip from its name ``dataset-1_{content}_{style}_{id}.bvh[.gz]``."""
    return Path(path).name.split("_")[2]


def bandai_clips(root: str | Path, split: str = "train") -> list[Path]:
    """Sorted clip paths of ``root/data`` for ``split`` in {"train", "test", "all"}."""
    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be train, test or all, got {split!r}")
    paths = sorted(p for p in (Path(root) / "data").iterdir() if p.name.endswith((".bvh", ".bvh.gz")))
    if not paths:
        raise FileNotFoundError(f"no .bvh or .bvh.gz clips in {Path(root) / 'data'}")
    if split == "all":
        return paths
    return [p for p in paths if (clip_style(p) in TEST_STYLES) == (split == "test")]


@dataclass
class PoseLibrary:
    """Retargeted mocap poses.

    Attributes:
        rotations: (N, J, 3, 3) float32 local rotations; joint 0 is the pelvis
            orientation with the heading removed (the person faces +z).
        clip: (N,) int32 index into ``clips``; frame: (N,) int32 frame within the clip.
        clips: clip file stems.
    """

    rotations: np.ndarray
    clip: np.ndarray
    frame: np.ndarray
    clips: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.rotations)

    def source(self, i: int) -> str:
        return f"{self.clips[self.clip[i]]}:{self.frame[i]}"


@functools.lru_cache(maxsize=4)
def load_bandai(root: str | Path, split: str = "train", stride: int = 2) -> PoseLibrary:
    """Retarget every ``stride``-th frame of the Bandai clips of ``split`` (cached per process)."""
    rotations, clip, frame, stems = [], [], [], []
    for c, path in enumerate(bandai_clips(root, split)):
        local = retarget(read_bvh(path))[::stride]
        root_rot = local[:, 0]
        local[:, 0] = axis_rotation("y", -yaw_of(root_rot)) @ root_rot
        rotations.append(local.astype(np.float32))
        clip.append(np.full(len(local), c, np.int32))
        frame.append(np.arange(0, len(local) * stride, stride, dtype=np.int32))
        stems.append(path.name.split(".")[0])
    return PoseLibrary(np.concatenate(rotations), np.concatenate(clip), np.concatenate(frame), tuple(stems))
