"""How the body is dressed in analytic primitives: the body-part vocabulary, the
primitives of each part, the face landmarks and the derived keypoint sets.

Part ids (0 is background; "left" is the person's own left)::

     0 background      7 left_shoulder     14 right_hand
     1 head            8 right_shoulder    15 left_thigh
     2 hair            9 left_upper_arm    16 right_thigh
     3 neck           10 right_upper_arm   17 left_lower_leg
     4 chest          11 left_forearm      18 right_lower_leg
     5 abdomen        12 right_forearm     19 left_foot
     6 pelvis         13 left_hand         20 right_foot

Keypoints are named points of the body: its 24 joints plus five face landmarks
(nose, eyes, ears) set into the head ellipsoid, so coco17, lsp14 and synth_body
all pick their keypoints by name. Each point lists its *hosts*, the primitives
it sits inside; visibility compares the first surface on the point's ray with
the hosts' own surface (see :mod:`posekit.synth.scene`).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .body import CROWN_ABOVE_HEAD, JOINTS, SOLE_BELOW_ANKLE, BodyShape, J
from .render import CAPSULE, ELLIPSOID, ROUNDED_BOX, Primitives

PARTS = (
    "background", "head", "hair", "neck", "chest", "abdomen", "pelvis",
    "left_shoulder", "right_shoulder", "left_upper_arm", "right_upper_arm",
    "left_forearm", "right_forearm", "left_hand", "right_hand",
    "left_thigh", "right_thigh", "left_lower_leg", "right_lower_leg", "left_foot", "right_foot",
)
PART_ID = {name: i for i, name in enumerate(PARTS)}
# PART_FLIP[p] is the part id of p in a horizontally mirrored image.
PART_FLIP = np.array([
    PART_ID[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")] for n in PARTS
], np.uint8)

# Materials a person wears; each primitive uses one.
SKIN, HAIR, TOP, BOTTOM, SHOES = range(5)
NUM_MATERIALS = 5

FACE_POINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
POINTS = JOINTS + FACE_POINTS  # every named point of the body

# Head ellipsoid of the reference body, in the head joint's frame (m).
HEAD_CENTRE = np.array([0.0, 0.075, 0.015])
HEAD_RADII = np.array([0.075, CROWN_ABOVE_HEAD - 0.075, 0.095])
HAIR_RADII = HEAD_RADII + (0.006, 0.003, 0.007)
NOSE_CENTRE = np.array([0.0, 0.05, 0.108])
NOSE_RADII = np.array([0.012, 0.02, 0.017])
# Face landmarks: a direction on the unit sphere of the head ellipsoid and a depth below its surface.
_FACE_SURFACE = {
    "left_eye": ((0.36, 0.10, 0.93), 0.008),
    "right_eye": ((-0.36, 0.10, 0.93), 0.008),
    "left_ear": ((1.0, 0.0, -0.05), 0.02),
    "right_ear": ((-1.0, 0.0, -0.05), 0.02),
}

# Points -> the primitives (by name) that contain them.
HOSTS = {
    "pelvis": ("pelvis",), "spine": ("abdomen",), "chest": ("chest", "abdomen"), "neck": ("neck", "chest"),
    "head": ("head", "neck"), "head_top": ("head", "hair"), "nose": ("nose", "head"),
    "left_eye": ("head",), "right_eye": ("head",), "left_ear": ("head",), "right_ear": ("head",),
}
for _side in ("left", "right"):
    HOSTS.update({
        f"{_side}_collar": (f"{_side}_collar", "chest"),
        f"{_side}_shoulder": (f"{_side}_deltoid", f"{_side}_upper_arm", "chest"),
        f"{_side}_elbow": (f"{_side}_upper_arm", f"{_side}_forearm"),
        f"{_side}_wrist": (f"{_side}_forearm", f"{_side}_hand"),
        f"{_side}_hand": (f"{_side}_hand",),
        f"{_side}_hip": (f"{_side}_thigh", "pelvis"),
        f"{_side}_knee": (f"{_side}_thigh", f"{_side}_lower_leg", f"{_side}_calf"),
        f"{_side}_ankle": (f"{_side}_lower_leg", f"{_side}_foot"),
        f"{_side}_foot": (f"{_side}_foot",),
    })


def point_indices(keypoint_names) -> np.ndarray:
    """Indices into :data:`POINTS` of a skeleton's keypoints (e.g. ``COCO17.keypoints``)."""
    missing = [n for n in keypoint_names if n not in POINTS]
    if missing:
        raise KeyError(f"the synthetic body has no points named {missing}")
    return np.array([POINTS.index(n) for n in keypoint_names])


@dataclass(frozen=True)
class Outfit:
    """What a person wears: ``sleeves`` in {none, short, long}, ``legs`` in {shorts, long},
    ``hair`` in {none, short, long}."""

    sleeves: str = "long"
    legs: str = "long"
    hair: str = "short"

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Outfit":
        def pick(options, p):
            return options[int(np.searchsorted(np.cumsum(p), rng.random() * sum(p)))]

        return cls(
            sleeves=pick(("none", "short", "long"), (0.15, 0.4, 0.45)),
            legs=pick(("shorts", "long"), (0.3, 0.7)),
            hair=pick(("none", "short", "long"), (0.1, 0.6, 0.3)),
        )


_ZERO = np.zeros(3)


class _Builder:
    """Collects primitives of one body in the body's coordinates; :meth:`build` places them
    all at once."""

    def __init__(self, positions: np.ndarray, frames: np.ndarray):
        self.positions, self.frames = positions, frames
        self.rows: list[tuple] = []
        self.names: list[str] = []

    def capsule(self, name, part, material, a, b, radius):
        self._add(name, part, material, CAPSULE, J[a], J[b], (_ZERO, 0.0), (_ZERO, 0.0), radius)

    def solid(self, name, part, material, kind, joint, centre, size, radius=0.0):
        """Ellipsoid or rounded box in ``joint``'s frame: centre offset and size in that frame,
        each given as a pair (3-vector, scale factor)."""
        self._add(name, part, material, kind, J[joint], J[joint], centre, size, radius)

    def _add(self, name, part, material, kind, joint0, joint1, centre, size, radius):
        self.names.append(name)
        self.rows.append((kind, joint0, joint1, centre, size, radius, PART_ID[part], material))

    def build(self) -> Primitives:
        kind, joint0, joint1, centre, size, radius, part, material = zip(*self.rows)
        kind, joint0 = np.array(kind, np.int8), np.array(joint0)
        solid = (kind != CAPSULE)[:, None]
        frames, start = self.frames[joint0], self.positions[joint0]
        centre, size = (np.array([v for v, _ in pairs]) * np.array([f for _, f in pairs])[:, None]
                        for pairs in (centre, size))
        centre = start + (frames @ centre[:, :, None])[:, :, 0]
        return Primitives(
            kind=kind, p0=np.where(solid, centre, start), p1=np.where(solid, centre, self.positions[list(joint1)]),
            axes=np.where(solid[:, :, None], frames, np.eye(3)), size=size,
            radius=np.array(radius, float), part=np.array(part, np.uint8), owner=np.zeros(len(kind), np.int32),
            material=np.array(material, np.int8),
        )


def dress(shape: BodyShape, outfit: Outfit, positions: np.ndarray, frames: np.ndarray) -> tuple[Primitives, list[str]]:
    """Primitives of a posed body (from :func:`~posekit.synth.body.forward_kinematics`, in metres)
    and their names (used by :data:`HOSTS`)."""
    s = shape.scale
    sh = s * shape.head
    limb = s * shape.girth * np.sqrt(shape.mass)
    trunk = s * shape.mass
    b = _Builder(positions, frames)
    b.solid("head", "head", SKIN, ELLIPSOID, "head", (HEAD_CENTRE, sh), (HEAD_RADII, sh))
    b.solid("nose", "head", SKIN, ELLIPSOID, "head", (NOSE_CENTRE, sh), (NOSE_RADII, sh))
    if outfit.hair != "none":
        b.solid("hair", "hair", HAIR, ELLIPSOID, "head", ((0.0, 0.09, -0.005), sh), (HAIR_RADII, sh))
    if outfit.hair == "long":
        b.solid("hair_back", "hair", HAIR, ELLIPSOID, "head", ((0.0, 0.0, -0.06), sh), ((0.08, 0.16, 0.05), sh))
    b.capsule("neck", "neck", SKIN, "neck", "head", 0.052 * limb)
    b.solid("chest", "chest", TOP, ROUNDED_BOX, "chest", ((0.0, 0.11, -0.005), s),
            ((0.115 * shape.shoulders * shape.mass, 0.085, 0.04 * shape.mass), s), 0.06 * trunk)
    b.solid("abdomen", "abdomen", TOP, ELLIPSOID, "spine", ((0.0, 0.05, 0.005), s),
            ((0.135 * shape.mass, 0.12, 0.10 * shape.mass), s))
    b.solid("pelvis", "pelvis", BOTTOM, ELLIPSOID, "pelvis", ((0.0, -0.035, -0.005), s),
            ((0.165 * shape.hips * shape.mass, 0.115, 0.11 * shape.mass), s))
    upper_arm = SKIN if outfit.sleeves == "none" else TOP
    forearm = TOP if outfit.sleeves == "long" else SKIN
    lower_leg = BOTTOM if outfit.legs == "long" else SKIN
    for side in ("left", "right"):
        b.capsule(f"{side}_collar", f"{side}_shoulder", TOP, f"{side}_collar", f"{side}_shoulder", 0.05 * limb)
        b.solid(f"{side}_deltoid", f"{side}_shoulder", upper_arm, ELLIPSOID, f"{side}_shoulder",
                ((0.0, -0.02, 0.0), s), ((0.058, 0.07, 0.058), limb))
        b.capsule(f"{side}_upper_arm", f"{side}_upper_arm", upper_arm, f"{side}_shoulder", f"{side}_elbow",
                  0.046 * limb)
        b.capsule(f"{side}_forearm", f"{side}_forearm", forearm, f"{side}_elbow", f"{side}_wrist", 0.037 * limb)
        b.solid(f"{side}_hand", f"{side}_hand", SKIN, ROUNDED_BOX, f"{side}_wrist", ((0.0, -0.05, 0.0), s),
                ((0.008, 0.038, 0.025), s), 0.013 * s)
        b.capsule(f"{side}_thigh", f"{side}_thigh", BOTTOM, f"{side}_hip", f"{side}_knee", 0.075 * limb)
        b.capsule(f"{side}_lower_leg", f"{side}_lower_leg", lower_leg, f"{side}_knee", f"{side}_ankle", 0.05 * limb)
        b.solid(f"{side}_calf", f"{side}_lower_leg", lower_leg, ELLIPSOID, f"{side}_knee",
                ((0.0, -0.14, -0.015), s), ((0.055, 0.12, 0.06), limb))
        b.solid(f"{side}_foot", f"{side}_foot", SHOES, ROUNDED_BOX, f"{side}_ankle",
                ((0.0, -(SOLE_BELOW_ANKLE - 0.035), 0.05), s), ((0.03, 0.015, 0.105), s), 0.02 * s)
    return b.build(), b.names


def _face_offsets() -> np.ndarray:
    """:data:`FACE_POINTS` (5, 3) in the head joint's frame of a head of scale 1: the nose tip,
    then each landmark of :data:`_FACE_SURFACE` set ``depth`` below the head ellipsoid along
    its surface normal (the normal's direction does not change with the head's scale)."""
    local = [NOSE_CENTRE + (0.0, 0.0, 0.004)]
    for name in FACE_POINTS[1:]:
        direction, depth = _FACE_SURFACE[name]
        u = np.array(direction) / np.linalg.norm(direction)
        normal = u / HEAD_RADII
        local.append(HEAD_CENTRE + HEAD_RADII * u - depth * normal / np.linalg.norm(normal))
    return np.array(local)


_FACE_OFFSETS = _face_offsets()


def face_points(shape: BodyShape, head_position: np.ndarray, head_frame: np.ndarray) -> np.ndarray:
    """The five face landmarks (5, 3) of :data:`FACE_POINTS`, in the frame ``head_position`` is in."""
    return head_position + (shape.scale * shape.head) * _FACE_OFFSETS @ head_frame.T


def body_points(shape: BodyShape, positions: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """All :data:`POINTS` (29, 3): the joints followed by the face landmarks."""
    return np.concatenate([positions, face_points(shape, positions[J["head"]], frames[J["head"]])])


def host_table(names: list[str], max_hosts: int = 3) -> np.ndarray:
    """(len(POINTS), max_hosts) indices into a body's primitives ``names``; -1 pads."""
    return _host_table(tuple(names), max_hosts).copy()


@functools.lru_cache(maxsize=16)  # a body's names depend only on its outfit
def _host_table(names: tuple[str, ...], max_hosts: int) -> np.ndarray:
    table = np.full((len(POINTS), max_hosts), -1, np.int64)
    for i, point in enumerate(POINTS):
        hosts = [names.index(h) for h in HOSTS[point] if h in names]
        table[i, :len(hosts)] = hosts
    return table
