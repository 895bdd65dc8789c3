"""Keypoint sets as data: names, flip pairs, links, OKS sigmas and colours.

Every part of posekit takes a :class:`Skeleton` instead of assuming 17 COCO
keypoints. Look one up by name with :func:`get_skeleton`.

OKS sigmas: COCO and COCO-WholeBody use their published per-keypoint values.
LSP has none; ``lsp14`` borrows the COCO value of the matching joint (ankle,
knee, hip, wrist, elbow, shoulder), uses the shoulder value for the neck (a
torso point annotated about as precisely as a shoulder) and the ear value for
the head top (a small, well-defined head landmark).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LEFT_COLOUR = (0, 200, 255)  # BGR orange-ish for the person's left side
RIGHT_COLOUR = (255, 128, 0)  # BGR blue for the person's right side
CENTRE_COLOUR = (0, 220, 0)


@dataclass(frozen=True)
class Skeleton:
    """A keypoint set.

    Attributes:
        name: short identifier (``coco17``, ``lsp14``...).
        keypoints: keypoint names, in channel order.
        flip_pairs: (left_index, right_index) pairs swapped by a horizontal flip.
        links: (i, j) index pairs drawn as bones and used as PAF limbs.
        sigmas: per-keypoint OKS sigmas (COCO convention, fraction of sqrt(area)).
    """

    name: str
    keypoints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    links: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    flip_index: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        k = len(self.keypoints)
        if len(self.sigmas) != k:
            raise ValueError(f"skeleton {self.name}: {len(self.sigmas)} sigmas for {k} keypoints")
        index = np.arange(k)
        for a, b in self.flip_pairs:
            index[a], index[b] = b, a
        object.__setattr__(self, "flip_index", index)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def index(self, name: str) -> int:
        try:
            return self.keypoints.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name} has no keypoint {name!r}") from None

    def side(self, i: int) -> str:
        """'left', 'right' or 'centre' for keypoint ``i`` (from its name)."""
        n = self.keypoints[i]
        if n.startswith("left") or n.startswith("l_"):
            return "left"
        if n.startswith("right") or n.startswith("r_"):
            return "right"
        return "centre"

    def keypoint_colours(self) -> list[tuple[int, int, int]]:
        table = {"left": LEFT_COLOUR, "right": RIGHT_COLOUR, "centre": CENTRE_COLOUR}
        return [table[self.side(i)] for i in range(self.num_keypoints)]

    def link_colours(self) -> list[tuple[int, int, int]]:
        """A link is coloured by its side when both ends agree, else centre."""
        out = []
        for a, b in self.links:
            sa, sb = self.side(a), self.side(b)
            side = sa if sa == sb else (sa if sb == "centre" else sb if sa == "centre" else "centre")
            out.append({"left": LEFT_COLOUR, "right": RIGHT_COLOUR, "centre": CENTRE_COLOUR}[side])
        return out

    def to_coco_category(self, category_id: int = 1) -> dict:
        """COCO category record (``skeleton`` is 1-based as in COCO files)."""
        return {
            "id": category_id,
            "name": "person",
            "supercategory": "person",
            "keypoints": list(self.keypoints),
            "skeleton": [[a + 1, b + 1] for a, b in self.links],
            "posekit_skeleton": self.name,
        }


def _pairs_by_name(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Flip pairs from names: every ``left*`` with its ``right*`` twin."""
    pairs = []
    for i, n in enumerate(names):
        for prefix, other in (("left_", "right_"),):
            if n.startswith(prefix):
                twin = other + n[len(prefix):]
                if twin in names:
                    pairs.append((i, names.index(twin)))
    return tuple(pairs)


# ----------------------------------------------------------------------------- coco17
_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)
_COCO_LINKS = (
    (15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6),
    (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6),
)
COCO17 = Skeleton("coco17", _COCO_NAMES, _pairs_by_name(_COCO_NAMES), _COCO_LINKS, _COCO_SIGMAS)

# ----------------------------------------------------------------------------- lsp14
_LSP_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
    "left_wrist", "neck", "head_top",
)
_LSP_SIGMAS = (0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.062, 0.072, 0.079, 0.079, 0.072, 0.062, 0.079, 0.035)
_LSP_LINKS = (
    (0, 1), (1, 2), (5, 4), (4, 3), (2, 3), (8, 2), (9, 3), (6, 7), (7, 8),
    (11, 10), (10, 9), (8, 12), (9, 12), (12, 13),
)
LSP14 = Skeleton("lsp14", _LSP_NAMES, _pairs_by_name(_LSP_NAMES), _LSP_LINKS, _LSP_SIGMAS)

# ----------------------------------------------------------------------------- coco_wholebody133
_FOOT_NAMES = ("left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
_FACE_NAMES = tuple(f"face_{i}" for i in range(68))
_FINGERS = ("thumb", "forefinger", "middle_finger", "ring_finger", "pinky_finger")
_HAND = ("hand_root",) + tuple(f"{f}{j}" for f in _FINGERS for j in range(1, 5))
_WB_NAMES = (
    _COCO_NAMES + _FOOT_NAMES + _FACE_NAMES
    + tuple("left_" + n for n in _HAND) + tuple("right_" + n for n in _HAND)
)
# iBUG-68 face layout mirror pairs (indices within the face block).
_FACE_MIRROR = (
    [(i, 16 - i) for i in range(8)]  # jaw line
    + [(17 + i, 26 - i) for i in range(5)]  # eyebrows
    + [(31, 35), (32, 34)]  # nostrils
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]  # eyes
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]  # outer lip
    + [(60, 64), (61, 63), (65, 67)]  # inner lip
)
_FACE0 = 23
_WB_PAIRS = _pairs_by_name(_WB_NAMES) + tuple((_FACE0 + a, _FACE0 + b) for a, b in _FACE_MIRROR)
_FOOT_SIGMAS = (0.068, 0.066, 0.066, 0.092, 0.094, 0.094)
_FACE_SIGMAS = (
    0.042, 0.043, 0.044, 0.043, 0.040, 0.035, 0.031, 0.025, 0.020, 0.023, 0.029, 0.032, 0.037, 0.038,
    0.043, 0.041, 0.045, 0.013, 0.012, 0.011, 0.011, 0.012, 0.012, 0.011, 0.011, 0.013, 0.015, 0.009,
    0.007, 0.007, 0.007, 0.012, 0.009, 0.008, 0.016, 0.010, 0.017, 0.011, 0.009, 0.011, 0.009, 0.007,
    0.013, 0.008, 0.011, 0.012, 0.010, 0.034, 0.008, 0.008, 0.009, 0.008, 0.008, 0.007, 0.010, 0.008,
    0.009, 0.009, 0.009, 0.007, 0.007, 0.008, 0.011, 0.008, 0.008, 0.008, 0.010, 0.008,
)
_HAND_SIGMAS = (
    0.029, 0.022, 0.035, 0.037, 0.047, 0.026, 0.025, 0.024, 0.035, 0.018, 0.024,
    0.022, 0.026, 0.017, 0.021, 0.021, 0.032, 0.020, 0.019, 0.022, 0.031,
)


def _hand_links(root: int) -> list[tuple[int, int]]:
    links = []
    for f in range(5):
        prev = root
        for j in range(4):
            cur = root + 1 + 4 * f + j
            links.append((prev, cur))
            prev = cur
    return links


_LH, _RH = 91, 112
_WB_LINKS = (
    _COCO_LINKS
    + ((15, 17), (15, 18), (15, 19), (16, 20), (16, 21), (16, 22))  # ankles to feet
    + tuple((_FACE0 + i, _FACE0 + i + 1) for i in range(16))  # jaw
    + tuple(_hand_links(_LH)) + tuple(_hand_links(_RH))
    + ((9, _LH), (10, _RH))  # wrists to hand roots
)
COCO_WHOLEBODY133 = Skeleton(
    "coco_wholebody133", _WB_NAMES, _WB_PAIRS, _WB_LINKS,
    _COCO_SIGMAS + _FOOT_SIGMAS + _FACE_SIGMAS + _HAND_SIGMAS + _HAND_SIGMAS,
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (COCO17, LSP14, COCO_WHOLEBODY133)}


def register_skeleton(skeleton: Skeleton) -> Skeleton:
    """Add a keypoint set (e.g. the synthetic body's own joints) to :data:`SKELETONS`."""
    SKELETONS[skeleton.name] = skeleton
    return skeleton


# Keypoint sets defined next to the code that owns them, registered when that module is imported.
_DEFINED_ELSEWHERE = {"synth_body": "posekit.synth.body"}


def get_skeleton(name: str) -> Skeleton:
    if name not in SKELETONS and name in _DEFINED_ELSEWHERE:
        import importlib

        importlib.import_module(_DEFINED_ELSEWHERE[name])
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(sorted(SKELETONS))}") from None


def skeleton_from_category(category: dict) -> Skeleton:
    """Find the skeleton of a COCO category: by ``posekit_skeleton``, else by its keypoint names."""
    if category.get("posekit_skeleton") in SKELETONS or category.get("posekit_skeleton") in _DEFINED_ELSEWHERE:
        return get_skeleton(category["posekit_skeleton"])
    names = tuple(category.get("keypoints", ()))
    for s in SKELETONS.values():
        if s.keypoints == names:
            return s
    raise KeyError(
        f"category {category.get('name')!r}: its {len(names)} keypoint names match no known skeleton "
        f"({', '.join(sorted(SKELETONS))})"
    )
