"""The synthetic body: a 24-joint skeleton, shape parameters, joint limits and
batched forward kinematics.

Frames and units. The body is in metres. In the rest pose the person stands
upright with the arms hanging at the sides; every joint frame is then aligned
with the body frame: +x is the person's left, +y up, +z forward. A pose is one
local rotation per joint (``(J, 3, 3)``, ``v_parent = R @ v_local``); joint 0
(the pelvis) carries the global orientation.

Joint limits are ranges of the angles ``(a, b, c)`` of ``R = Rz(c) Ry(b) Rx(a)``
(:func:`~posekit.synth.rotations.euler_zyx_to_matrix`). Right-side limits are
the mirror images of the left ones (``b`` and ``c`` change sign).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np

from ..skeletons import Skeleton, register_skeleton
from .rotations import euler_zyx_to_matrix, matrix_to_euler_zyx

JOINTS = (
    "pelvis", "spine", "chest", "neck", "head", "head_top",
    "left_collar", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_collar", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
J = {name: i for i, name in enumerate(JOINTS)}
PARENTS = (
    -1, 0, 1, 2, 3, 4,
    2, 6, 7, 8, 9,
    2, 11, 12, 13, 14,
    0, 16, 17, 18,
    0, 20, 21, 22,
)
NUM_JOINTS = len(JOINTS)

# Rest offsets of the reference body (1.73 m from sole to crown), left and centre joints.
# Each entry: (offset from the parent in metres, the shape factor that scales it).
_REFERENCE = {
    "spine": ((0.0, 0.11, 0.0), "torso"),
    "chest": ((0.0, 0.13, 0.0), "torso"),
    "neck": ((0.0, 0.20, 0.0), "torso"),
    "head": ((0.0, 0.10, 0.0), "head"),
    "head_top": ((0.0, 0.17, 0.0), "head"),
    "left_collar": ((0.035, 0.165, -0.01), "shoulders"),
    "left_shoulder": ((0.145, 0.0, 0.0), "shoulders"),
    "left_elbow": ((0.0, -0.28, 0.0), "arms"),
    "left_wrist": ((0.0, -0.25, 0.0), "arms"),
    "left_hand": ((0.0, -0.085, 0.0), "hands"),
    "left_hip": ((0.09, -0.065, 0.0), "hips"),
    "left_knee": ((0.0, -0.43, 0.0), "legs"),
    "left_ankle": ((0.0, -0.42, 0.0), "legs"),
    "left_foot": ((0.0, -0.055, 0.135), "feet"),
}
CROWN_ABOVE_HEAD = 0.187  # head joint to the top of the skull, reference body (m)
SOLE_BELOW_ANKLE = 0.085  # ankle joint to the sole of the foot, reference body (m)


@dataclass(frozen=True)
class BodyShape:
    """Shape parameters. ``height`` is sole to crown in metres; the other fields
    are multiplicative factors around 1 (bone-length ratios, widths, girths, and
    ``mass``, a body-mass-like factor that widens the trunk and thickens limbs)."""

    height: float = 1.73
    legs: float = 1.0
    arms: float = 1.0
    torso: float = 1.0
    head: float = 1.0
    shoulders: float = 1.0
    hips: float = 1.0
    girth: float = 1.0
    mass: float = 1.0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "BodyShape":
        """A random adult-to-teen body."""
        def n(mean, std, lo, hi):  # np.clip's value, without its per-call cost
            return min(max(rng.normal(mean, std), lo), hi)

        return cls(
            height=n(1.70, 0.10, 1.40, 2.00),
            legs=n(1.0, 0.05, 0.88, 1.12),
            arms=n(1.0, 0.05, 0.88, 1.12),
            torso=n(1.0, 0.05, 0.88, 1.12),
            head=n(1.0, 0.05, 0.9, 1.15),
            shoulders=n(1.0, 0.07, 0.85, 1.2),
            hips=n(1.0, 0.07, 0.85, 1.2),
            girth=n(1.0, 0.1, 0.8, 1.3),
            mass=n(1.0, 0.12, 0.8, 1.45),
        )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_array(self) -> np.ndarray:
        """(S,) float32 in the order of :meth:`names`."""
        return np.array([getattr(self, name) for name in self.names()], np.float32)

    def factor(self, group: str) -> float:
        """Length factor of an offset group, before the overall scale."""
        return 1.0 if group in ("hands", "feet") else getattr(self, group)

    @functools.cached_property
    def scale(self) -> float:
        """Overall scale that makes the rest pose ``height`` tall."""
        raw = _unscaled_offsets(self)
        pelvis_to_crown = raw[[J["spine"], J["chest"], J["neck"], J["head"]], 1].sum() + CROWN_ABOVE_HEAD * self.head
        pelvis_to_sole = -raw[[J["left_hip"], J["left_knee"], J["left_ankle"]], 1].sum() + SOLE_BELOW_ANKLE
        return self.height / (pelvis_to_crown + pelvis_to_sole)


def _reference_table() -> tuple[np.ndarray, tuple[str | None, ...]]:
    """:data:`_REFERENCE` as offsets (J, 3), right side mirrored, and each joint's shape group."""
    offsets, groups = np.zeros((NUM_JOINTS, 3)), [None] * NUM_JOINTS
    for name, (offset, group) in _REFERENCE.items():
        offsets[J[name]], groups[J[name]] = offset, group
        if name.startswith("left_"):
            right = J["right_" + name[5:]]
            offsets[right], groups[right] = np.multiply(offset, (-1.0, 1.0, 1.0)), group
    return offsets, tuple(groups)


_REFERENCE_OFFSETS, _REFERENCE_GROUPS = _reference_table()


def _unscaled_offsets(shape: BodyShape) -> np.ndarray:
    factors = [0.0 if group is None else shape.factor(group) for group in _REFERENCE_GROUPS]
    return _REFERENCE_OFFSETS * np.array(factors)[:, None]


def rest_offsets(shape: BodyShape) -> np.ndarray:
    """Bone offsets (J, 3) in metres from each joint's parent, in the rest pose.
    Row 0 (the root) is zero: place the body with the root position."""
    return _unscaled_offsets(shape) * shape.scale


def pelvis_height(shape: BodyShape) -> float:
    """Height of the pelvis joint above the soles in the rest pose (m)."""
    raw = _unscaled_offsets(shape)
    return shape.scale * (-raw[[J["left_hip"], J["left_knee"], J["left_ankle"]], 1].sum() + SOLE_BELOW_ANKLE)


def forward_kinematics(rotations, offsets, parents=PARENTS):
    """Global joint positions and frames.

    Args:
        rotations: (..., J, 3, 3) local rotations; joint 0 is the global orientation.
        offsets: (..., J, 3) translation of each joint in its parent's frame; row 0 is
            the root position. Numpy arrays or torch tensors (differentiable).
        parents: parent index per joint, -1 for the root, parents before children.
    Returns:
        positions (..., J, 3) and frames (..., J, 3, 3), in the units of ``offsets``.
    """
    if isinstance(rotations, np.ndarray) and rotations.ndim == 3 and isinstance(offsets, np.ndarray):
        return _single_pose_kinematics(rotations, offsets, tuple(parents))
    frames, positions = [], []
    for j, p in enumerate(parents):
        rot, off = rotations[..., j, :, :], offsets[..., j, :]
        if p < 0:
            frames.append(rot)
            positions.append(off)
        else:
            frames.append(frames[p] @ rot)
            positions.append(positions[p] + (frames[p] @ off[..., None])[..., 0])
    if isinstance(offsets, np.ndarray):
        return np.stack(positions, axis=-2), np.stack(frames, axis=-3)
    import torch

    return torch.stack(positions, dim=-2), torch.stack(frames, dim=-3)


@functools.lru_cache(maxsize=8)
def _tree_levels(parents: tuple[int, ...]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """The roots, and (joints, their parents) at each depth below them."""
    depth = []
    for p in parents:
        depth.append(0 if p < 0 else depth[p] + 1)
    depth, parents = np.array(depth), np.array(parents)
    levels = [np.flatnonzero(depth == d) for d in range(1, depth.max() + 1)]
    return np.flatnonzero(depth == 0), [(js, parents[js]) for js in levels]


def _single_pose_kinematics(rotations: np.ndarray, offsets: np.ndarray, parents: tuple[int, ...]):
    """:func:`forward_kinematics` of one pose (J, 3, 3), a depth of the tree at a time."""
    roots, levels = _tree_levels(parents)
    frames = np.empty_like(rotations)
    positions = np.empty(offsets.shape, np.result_type(rotations, offsets))
    frames[roots], positions[roots] = rotations[roots], offsets[roots]
    for joints, parent in levels:
        parent_frames = frames[parent]
        frames[joints] = parent_frames @ rotations[joints]
        positions[joints] = positions[parent] + (parent_frames @ offsets[joints][:, :, None])[:, :, 0]
    return positions, frames


# ----------------------------------------------------------------------------- limits
# (a, b, c) ranges in degrees and the neutral standing value, for centre and left joints.
_LIMITS_DEG = {
    "spine": (((-25, 50), (-30, 30), (-25, 25)), (3, 0, 0)),
    "chest": (((-15, 30), (-25, 25), (-20, 20)), (0, 0, 0)),
    "neck": (((-30, 40), (-45, 45), (-25, 25)), (5, 0, 0)),
    "head": (((-35, 35), (-50, 50), (-25, 25)), (-5, 0, 0)),
    "left_collar": (((-10, 10), (-20, 15), (-10, 30)), (0, 0, 0)),
    "left_shoulder": (((-170, 60), (-80, 80), (-25, 170)), (-5, 0, 10)),
    "left_elbow": (((-150, 0), (-80, 80), (-5, 5)), (-15, 0, 0)),
    "left_wrist": (((-25, 25), (-10, 10), (-70, 70)), (0, 0, 0)),
    "left_hip": (((-120, 30), (-40, 40), (-25, 45)), (-3, 0, 3)),
    "left_knee": (((0, 150), (-15, 15), (-3, 3)), (5, 0, 0)),
    "left_ankle": (((-25, 45), (-20, 20), (-20, 20)), (0, 0, 0)),
}


def _limit_tables() -> tuple[np.ndarray, np.ndarray]:
    lo_hi = np.zeros((NUM_JOINTS, 3, 2))
    neutral = np.zeros((NUM_JOINTS, 3))
    lo_hi[0] = ((-180, 180), (-90, 90), (-180, 180))  # the root is placed by the scene
    for name, (ranges, mean) in _LIMITS_DEG.items():
        lo_hi[J[name]], neutral[J[name]] = ranges, mean
        if name.startswith("left_"):
            mirror = np.array([1.0, -1.0, -1.0])
            r = np.array(ranges, float) * mirror[:, None]
            lo_hi[J["right_" + name[5:]]] = np.sort(r, axis=1)
            neutral[J["right_" + name[5:]]] = np.array(mean) * mirror
    return np.radians(lo_hi), np.radians(neutral)


LIMITS, NEUTRAL = _limit_tables()  # (J, 3, 2) and (J, 3), radians


def clamp_to_limits(rotations: np.ndarray) -> np.ndarray:
    """Project local rotations (..., J, 3, 3) into the joint limits (through their Euler angles)."""
    angles = matrix_to_euler_zyx(rotations)
    return euler_zyx_to_matrix(np.clip(angles, LIMITS[..., 0], LIMITS[..., 1]))


def sample_pose(rng: np.random.Generator, spread: float = 0.4, uniform_prob: float = 0.1) -> np.ndarray:
    """A random pose (J, 3, 3) within the joint limits, root orientation identity.

    Each angle is normal around the neutral standing pose with a standard deviation
    of ``spread`` times its half range, clipped to the limits; with probability
    ``uniform_prob`` a joint is instead drawn uniformly within its limits.
    """
    lo, hi = LIMITS[..., 0], LIMITS[..., 1]
    angles = NEUTRAL + rng.normal(size=NEUTRAL.shape) * spread * (hi - lo) / 2
    uniform = rng.uniform(lo, hi)
    angles = np.where(rng.random((NUM_JOINTS, 1)) < uniform_prob, uniform, angles)
    angles = np.clip(angles, lo, hi)
    angles[0] = 0.0
    return euler_zyx_to_matrix(angles)


def neutral_pose() -> np.ndarray:
    """The neutral standing pose (J, 3, 3)."""
    return euler_zyx_to_matrix(NEUTRAL)


# ----------------------------------------------------------------------------- skeleton
# OKS sigmas: COCO's value for the joints COCO has, a torso-like value elsewhere.
_SIGMAS = {
    "pelvis": 0.107, "spine": 0.107, "chest": 0.079, "neck": 0.079, "head": 0.035, "head_top": 0.035,
    "collar": 0.079, "shoulder": 0.079, "elbow": 0.072, "wrist": 0.062, "hand": 0.062,
    "hip": 0.107, "knee": 0.087, "ankle": 0.089, "foot": 0.089,
}


def _sigma(name: str) -> float:
    return _SIGMAS[name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name]


SYNTH_BODY = register_skeleton(Skeleton(
    name="synth_body",
    keypoints=JOINTS,
    flip_pairs=tuple(
        (i, JOINTS.index("right_" + n[5:])) for i, n in enumerate(JOINTS) if n.startswith("left_")
    ),
    links=tuple((p, j) for j, p in enumerate(PARENTS) if p >= 0),
    sigmas=tuple(_sigma(n) for n in JOINTS),
))
