"""Scenes: people, cameras, lighting, textures and backgrounds, rendered with labels.

World frame: metres, +y up, the ground is ``y = 0`` and the camera stands at
``(0, h, 0)`` looking roughly along -z. Camera frame: OpenCV (x right, y down,
z forward); ``x_cam = camera_R @ x_world + camera_t``.

Keypoint visibility (COCO ``v``), decided by the z-buffer at the keypoint's pixel
(its coordinates rounded to the nearest pixel centre):

* 0: outside the image, or behind the camera;
* 2: the pixel shows this person, no surface lies in front of the keypoint's own
  enclosing primitives (its *hosts*, e.g. upper arm and forearm for an elbow)
  along that pixel's ray, and the keypoint sits in the front 3/4 of the hosts'
  extent along the ray (so a face seen from behind is hidden by the head);
* 1: otherwise: a nearer surface of the same person or of someone else covers it
  (or, rarely, its limb is thinner than a pixel and the pixel shows background).

Scene ``index`` of ``seed`` depends on nothing else (and on the pose library and
background folder, when used), so a scene can be re-rendered alone.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..skeletons import get_skeleton
from .body import JOINTS, BodyShape, forward_kinematics, rest_offsets, sample_pose
from .bvh import PoseLibrary, load_bandai
from .parts import NUM_MATERIALS, SKIN, HAIR, SHOES, Outfit, body_points, dress, host_table, point_indices
from .render import NEAR, Primitives, hull_depths_from, hull_probes, pixel_rays, raycast_and_probe
from .rotations import axis_rotation

# A keypoint deeper than this share of its hosts' thickness along its ray is hidden by them:
# the back of the head hides the eyes, while a limb's own skin over its joint does not.
FAR_SIDE = 0.75
MAX_PEOPLE = 99  # annotation id = image_id * 100 + person number (1..99)
DEFAULT_MOCAP = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mocap" / "bandai_namco_1"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class SynthConfig:
    """What scenes look like.

    Attributes:
        width, height: image size in pixels.
        people: inclusive range of the number of people per scene.
        keypoints: keypoint set of the annotations (``coco17``, ``lsp14`` or ``synth_body``).
        person_scale: range of a standing person's height as a fraction of the image height.
        mocap_dir: Bandai-Namco-Research-Motiondataset-1 folder; ``"auto"`` uses
            ``$POSEKIT_MOCAP_DIR`` or ``../shared/data/mocap/bandai_namco_1`` beside the
            repository when present; ``None`` samples every pose within the joint limits.
        split: mocap clips to draw from: ``train``, ``test`` (styles tired and proud) or ``all``.
        random_pose_prob: chance that a person's pose is sampled within the joint limits
            even when mocap is available.
        backgrounds_dir: optional folder of photos used as backgrounds (with procedural ones).
    """

    width: int = 256
    height: int = 256
    people: tuple[int, int] = (1, 3)
    keypoints: str = "coco17"
    person_scale: tuple[float, float] = (0.35, 0.95)
    mocap_dir: str | None = "auto"
    split: str = "train"
    random_pose_prob: float = 0.2
    backgrounds_dir: str | None = None

    def __post_init__(self):
        lo, hi = self.people
        if not 1 <= lo <= hi <= MAX_PEOPLE:
            raise ValueError(f"people must satisfy 1 <= A <= B <= {MAX_PEOPLE}, got {self.people}")
        if self.width < 8 or self.height < 8:
            raise ValueError(f"image size must be at least 8x8, got {self.width}x{self.height}")
        if not 0 < self.person_scale[0] <= self.person_scale[1]:
            raise ValueError(f"person_scale must satisfy 0 < A <= B, got {self.person_scale}")
        if self.split not in ("train", "test", "all"):
            raise ValueError(f"split must be train, test or all, got {self.split!r}")
        if not 0 <= self.random_pose_prob <= 1:
            raise ValueError(f"random_pose_prob must be in [0, 1], got {self.random_pose_prob}")
        get_skeleton(self.keypoints)


def resolve_mocap_dir(mocap_dir: str | None) -> Path | None:
    """The mocap folder a config means (see :class:`SynthConfig`), or None."""
    if mocap_dir == "auto":
        return _auto_mocap_dir(os.environ.get("POSEKIT_MOCAP_DIR"))
    return _mocap_dir(mocap_dir)


@functools.lru_cache(maxsize=8)
def _auto_mocap_dir(env: str | None) -> Path | None:
    candidate = Path(env) if env else DEFAULT_MOCAP
    return candidate.resolve() if (candidate / "data").is_dir() else None


@functools.lru_cache(maxsize=8)
def _mocap_dir(mocap_dir: str | None) -> Path | None:
    if mocap_dir is None:
        return None
    path = Path(mocap_dir)
    if not (path / "data").is_dir():
        raise FileNotFoundError(f"mocap folder {path} has no data/ subfolder of .bvh[.gz] clips")
    return path.resolve()


def pose_library(config: SynthConfig) -> PoseLibrary | None:
    """The retargeted mocap poses a config draws from (loaded once per process), or None."""
    root = resolve_mocap_dir(config.mocap_dir)
    return None if root is None else load_bandai(root, config.split)


@functools.lru_cache(maxsize=4)
def _background_files(folder: str) -> tuple[Path, ...]:
    files = tuple(sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {folder}")
    return files


# ----------------------------------------------------------------------------- people
@dataclass
class _Person:
    shape: BodyShape
    outfit: Outfit
    pose: np.ndarray  # (J, 3, 3) local rotations, joint 0 = pelvis orientation before the heading
    source: str
    colours: np.ndarray  # (NUM_MATERIALS, 2, 3) base and pattern colour per material, RGB in [0, 1]
    patterns: np.ndarray  # (NUM_MATERIALS, 10) pattern kind, frequency, phase, contrast, 2 directions


_LIGHT_SKIN = np.array([0.96, 0.80, 0.69])
_SKIN_RANGE = np.array([0.36, 0.22, 0.15]) - _LIGHT_SKIN  # to the darkest skin
_HAIR_COLOURS = np.array([[0.05, 0.04, 0.03], [0.30, 0.18, 0.08], [0.85, 0.70, 0.40], [0.55, 0.20, 0.08],
                          [0.65, 0.65, 0.65]])


def _sample_colours(rng: np.random.Generator) -> np.ndarray:
    skin = _LIGHT_SKIN + rng.uniform() * _SKIN_RANGE
    hair = _HAIR_COLOURS[rng.integers(5)]
    shoes = (0.08, 0.9, rng.uniform(0.1, 0.9))[rng.integers(3)] * rng.uniform(0.85, 1.0, 3)
    base = np.stack([skin, hair, rng.uniform(0.05, 0.95, 3), rng.uniform(0.05, 0.9, 3), shoes])
    base = np.clip(base * rng.uniform(0.92, 1.08, (NUM_MATERIALS, 3)), 0, 1)
    other = np.clip(np.where(rng.random((NUM_MATERIALS, 1)) < 0.5, base * rng.uniform(0.4, 0.8),
                             rng.uniform(0, 1, (NUM_MATERIALS, 3))), 0, 1)
    return np.stack([base, other], axis=1)


def _sample_patterns(rng: np.random.Generator) -> np.ndarray:
    """Per material: kind (0 plain, 1 stripes, 2 checks, 3 noise), frequency (cycles/m),
    phase, contrast, then two unit directions in the body frame."""
    out = np.zeros((NUM_MATERIALS, 10))
    kinds = np.searchsorted(np.cumsum([0.4, 0.25, 0.15, 0.2]), rng.random(NUM_MATERIALS) * 0.999999)
    kinds[SKIN] = 3  # skin and hair get a soft noise, shoes stay plain
    kinds[HAIR] = 1
    kinds[SHOES] = 0
    out[:, 0] = kinds
    out[:, 1] = rng.uniform(4, 25, NUM_MATERIALS)
    out[HAIR, 1] = rng.uniform(80, 150)
    out[:, 2] = rng.uniform(0, 2 * np.pi, NUM_MATERIALS)
    out[:, 3] = rng.uniform(0.5, 1.0, NUM_MATERIALS)
    out[SKIN, 3] = rng.uniform(0.05, 0.15)
    out[HAIR, 3] = rng.uniform(0.1, 0.3)
    u = rng.normal(size=(NUM_MATERIALS, 3))
    u[HAIR] = (0.0, 1.0, 0.0)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = rng.normal(size=(NUM_MATERIALS, 3))
    w -= np.sum(w * u, axis=1, keepdims=True) * u  # a random direction perpendicular to u
    out[:, 4:7], out[:, 7:10] = u, w / np.linalg.norm(w, axis=1, keepdims=True)
    return out


def _sample_person(rng: np.random.Generator, library: PoseLibrary | None, config: SynthConfig) -> _Person:
    shape = BodyShape.sample(rng)
    outfit = Outfit.sample(rng)
    if library is not None and rng.random() >= config.random_pose_prob:
        i = int(rng.integers(len(library)))
        pose, source = library.rotations[i].astype(np.float64), f"bandai:{library.source(i)}"
    else:
        pose = sample_pose(rng)
        pose[0] = axis_rotation("z", rng.normal(0, 0.08)) @ axis_rotation("x", rng.normal(0, 0.08))
        source = "random"
    return _Person(shape, outfit, pose, source, _sample_colours(rng), _sample_patterns(rng))


# ----------------------------------------------------------------------------- camera and placement
def _intrinsics(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    fov = np.radians(rng.uniform(40, 75))
    fx = (width / 2) / np.tan(fov / 2)
    fy = fx * rng.uniform(0.98, 1.02)
    cx = (width - 1) / 2 + rng.uniform(-0.03, 0.03) * width
    cy = (height - 1) / 2 + rng.uniform(-0.03, 0.03) * height
    return np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])


def _place(rng, people, K, config) -> tuple[np.ndarray, np.ndarray]:
    """Ground positions (P, 3) and headings (P,) of the people, in the world."""
    spots, yaws = [], []
    for person in people:
        for _ in range(20):
            frac = rng.uniform(*config.person_scale)
            z = K[1, 1] * person.shape.height / (frac * config.height)
            x = rng.uniform(-0.55, 0.55) * config.width * z / K[0, 0]
            spot = np.array([x, 0.0, -z])
            if all(np.hypot(*(spot - s)[[0, 2]]) > 0.6 for s in spots):
                break
        spots.append(spot)
        frontal = rng.random() < 0.6
        yaws.append(rng.normal(0, 0.6) if frontal else rng.uniform(-np.pi, np.pi))
    return np.array(spots), np.array(yaws)


def _look_at(rng, spots, heights) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera rotation (3, 3) and translation (3,) of a camera aimed at the group."""
    centre = np.array([0.0, rng.uniform(0.4, 2.2), 0.0])
    target = spots.mean(axis=0) + (rng.normal(0, 0.15), rng.uniform(0.35, 0.65) * heights.mean(), 0.0)
    fx, fy, fz = (target - centre) / np.linalg.norm(target - centre)
    rx, rz = -fz / np.hypot(fx, fz), fx / np.hypot(fx, fz)  # right = forward x up, normalised
    forward, right = np.array([fx, fy, fz]), np.array([rx, 0.0, rz])
    down = np.array([fy * rz, fz * rx - fx * rz, -fy * rx])  # forward x right
    roll = rng.normal(0, np.radians(4))
    R = np.stack([right, down, forward])
    R = axis_rotation("z", roll) @ R
    return R, -R @ centre


@dataclass
class _Posed:
    """A person in the world: primitives and their names, the body's points (29, 3),
    local rotations (J, 3, 3) with the world orientation at joint 0, the pelvis frame
    (3, 3) and position (3,)."""

    prims: Primitives
    names: list[str]
    points: np.ndarray
    pose: np.ndarray
    frame: np.ndarray
    translation: np.ndarray


def _pose_person(person: _Person, yaw: float, spot: np.ndarray, owner: int) -> _Posed:
    pose = person.pose.copy()
    pose[0] = axis_rotation("y", yaw) @ pose[0]
    positions, frames = forward_kinematics(pose, rest_offsets(person.shape))
    prims, names = dress(person.shape, person.outfit, positions, frames)
    lift = -prims.bounds()[0][:, 1].min()  # stand the lowest point on the ground
    offset = spot + (0.0, lift, 0.0)
    prims = prims.transformed(np.eye(3), offset)
    prims.owner[:] = owner
    return _Posed(prims, names, body_points(person.shape, positions, frames) + offset, pose, frames[0], offset)


# ----------------------------------------------------------------------------- appearance
def _shade(rng, prims, people, posed, hit, index, normals, cam_R, cam_t):
    """Colours (3, M) float32 of the M covered pixels at camera-frame points ``hit`` (3, M)
    float32 on primitives ``index`` (M,) with unit normals ``normals`` (M, 3): a solid texture
    in each person's body frame, times Lambert + ambient lighting."""
    # per (person, material): the two texture waves as phase = g . x_camera + h, with the
    # camera -> body map q = A x + b; the weights of the three patterns; the two colours
    frames = np.stack([p.frame for p in posed])
    A = np.einsum("pji,kj->pik", frames, cam_R)  # F^T R^T
    b = -np.einsum("pji,pj->pi", frames, cam_t @ cam_R + np.stack([p.translation for p in posed]))
    patterns = np.stack([p.patterns for p in people])  # (P, M, 10)
    rows = []
    for u, phase in ((patterns[..., 4:7], patterns[..., 2]), (patterns[..., 7:10], 0.0)):
        k = 2 * np.pi * patterns[..., 1:2] * u
        rows += [np.einsum("pij,pmi->pmj", A, k), (np.einsum("pi,pmi->pm", b, k) + phase)[..., None]]
    weights = (patterns[..., :1] == (1, 2, 3)) * patterns[..., 3:4]  # stripes, checks, noise
    colours = np.stack([p.colours for p in people])  # (P, M, 2, 3)
    light = rng.normal(size=3) * (1.0, 0.6, 0.6) + (0.0, -0.7, -1.0)
    light /= np.linalg.norm(light)
    ambient, diffuse = rng.uniform(0.25, 0.55), rng.uniform(0.5, 0.9)
    tone = rng.uniform(0.9, 1.1, 3)
    base, change = colours[:, :, 0] * tone, (colours[:, :, 1] - colours[:, :, 0]) * tone
    table = np.concatenate(rows + [weights, base, change], axis=-1).reshape(len(people) * NUM_MATERIALS, -1)
    # one row per primitive, with its tint: (n, 18), gathered per pixel into (18, M) float32
    tint = 1.0 + 0.06 * np.sin(prims.part * 12.9898 + prims.owner * 78.233)
    table = np.concatenate([table[prims.owner * NUM_MATERIALS + prims.material], tint[:, None]], axis=1)
    t = np.ascontiguousarray(np.take(table.astype(np.float32), index, axis=0).T)
    x, y, z = hit
    s = np.sin(t[0] * x + t[1] * y + t[2] * z + t[3])
    c = np.sin(t[4] * x + t[5] * y + t[6] * z + t[7])
    sc = s * c
    mix = t[8] * (s > 0) + t[9] * (sc > 0) + t[10] * (0.5 + 0.25 * (sc + s))
    shading = t[17] * (ambient + diffuse * np.maximum(normals @ light, 0.0)).astype(np.float32)
    return (t[11:14] + t[14:17] * mix) * shading


def _background(rng, width, height, K, cam_R, cam_t, backgrounds_dir) -> np.ndarray:
    """Background image (H, W, 3) RGB float in [0, 1]."""
    choice = rng.random()
    if backgrounds_dir is not None and choice < 0.6:
        files = _background_files(str(backgrounds_dir))
        image = cv2.imread(str(files[rng.integers(len(files))]), cv2.IMREAD_COLOR)
        h, w = image.shape[:2]
        crop = rng.uniform(0.4, 1.0) * min(w / width, h / height)
        cw, ch = max(int(width * crop), 1), max(int(height * crop), 1)
        x0, y0 = rng.integers(0, w - cw + 1), rng.integers(0, h - ch + 1)
        image = cv2.resize(image[y0:y0 + ch, x0:x0 + cw], (width, height), interpolation=cv2.INTER_AREA)
        return image[..., ::-1].astype(np.float32) / 255.0
    grid = rng.integers(2, 9)  # smooth colour noise: cubic up to 64 px, then linear (cheaper) to full size
    noise = cv2.resize(rng.random((grid, grid, 3)).astype(np.float32), (64, 64), interpolation=cv2.INTER_CUBIC)
    noise = noise * np.float32(rng.uniform(0.3, 1.0)) + rng.uniform(0, 0.6, 3).astype(np.float32)
    np.clip(noise, 0, 1, out=noise)
    if choice < 0.75:
        return _room(rng, width, height, K, cam_R, cam_t, noise)
    base = cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.integers(5, 30)):  # clutter
        colour = tuple(float(v) for v in rng.random(3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        size = int(rng.integers(3, max(width, height) // 3))
        shape = rng.integers(3)
        if shape == 0:
            cv2.rectangle(base, (x, y), (x + size, y + int(rng.integers(3, size + 4))), colour, -1)
        elif shape == 1:
            cv2.circle(base, (x, y), size // 2, colour, -1)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.line(base, (x, y), end, colour, int(rng.integers(1, 6)))
    return base


_CHECKER = (np.add.outer(np.arange(32) // 16, np.arange(32) // 16) % 2).astype(np.float32)[..., None]  # (32, 32, 1)


def _room(rng, width, height, K, cam_R, cam_t, wall) -> np.ndarray:
    """A tiled floor (the plane y = 0) in perspective in front of ``wall`` (h, w, 3, any size):
    the image (H, W, 3), composed at half resolution (nearest floor texels) and upsampled
    linearly, which also smooths the horizon."""
    # one period of the tiling (2 x 2 tiles of 16 px), wrapped over the whole plane
    c1, c2 = rng.uniform(0.1, 0.9, 3).astype(np.float32), rng.uniform(0.1, 0.9, 3).astype(np.float32)
    texture = c2 + (c1 - c2) * _CHECKER
    metres_per_texel = rng.uniform(0.3, 1.2) / 16
    # floor (x, z) -> image: K (x R[:, 0] + z R[:, 2] + t); texel (p, q) = (x, z) / metres_per_texel
    floor_to_image = (K @ np.stack([cam_R[:, 0], cam_R[:, 2], cam_t], axis=1)) * (metres_per_texel, metres_per_texel, 1)
    half = np.array([[0.5, 0, -0.25], [0, 0.5, -0.25], [0, 0, 1]])  # full -> half resolution pixels
    hw, hh = (width + 1) // 2, (height + 1) // 2
    floor = cv2.warpPerspective(texture, half @ floor_to_image, (hw, hh), flags=cv2.INTER_NEAREST,
                                borderMode=cv2.BORDER_WRAP)
    # where rays go down, and how far they travel: world ray y = R[:, 1] . K^-1 (u, v, 1) = a u + b v + c
    (fx, _, cx), (_, fy, cy) = K[:2]
    a, b = cam_R[0, 1] / fx, cam_R[1, 1] / fy
    a, b, c = np.float32(a), np.float32(b), np.float32(cam_R[2, 1] - a * cx - b * cy)
    camera_height = np.float32(-(cam_R.T @ cam_t)[1])
    centres = np.arange(max(hw, hh), dtype=np.float32) * 2 + np.float32(0.5)  # half-size pixel centres, full-size u, v
    ray_y = a * centres[None, :hw] + (b * centres[:hh, None] + c)
    on_floor = ray_y < -camera_height / 60  # the floor, up to 60 (ray z-lengths) away
    rows = np.flatnonzero(on_floor.any(axis=1))  # a band of rows: ray_y is linear in u and v
    if len(rows):
        band = slice(rows[0], rows[-1] + 1)
        # the tiles fade to grey towards the horizon with the distance along the optical axis
        fade = np.exp(camera_height / np.float32(15) / np.minimum(ray_y[band], np.float32(-1e-6)))
        floor[band] -= 0.5
        floor[band] *= fade[..., None]
        floor[band] += 0.5
    room = cv2.copyTo(floor, on_floor.view(np.uint8), cv2.resize(wall, (hw, hh), interpolation=cv2.INTER_LINEAR))
    return cv2.resize(room, (width, height), interpolation=cv2.INTER_LINEAR)


@functools.lru_cache(maxsize=1)
def _noise_tiles() -> tuple[np.ndarray, np.ndarray]:
    """A fixed (512, 512, 3) float32 tile of unit Gaussian noise, and its upside-down copy."""
    tile = np.random.default_rng(0).standard_normal((512, 512, 3), dtype=np.float32)
    return tile, tile[::-1].copy()


def _sensor_noise(rng, height: int, width: int) -> np.ndarray:
    """Unit Gaussian pixel noise (H, W, 3): a randomly shifted window of a fixed tile or of its
    upside-down copy (rows contiguous, as cv2 wants them)."""
    tiles = _noise_tiles()
    if height > tiles[0].shape[0] or width > tiles[0].shape[1]:
        reps = (height // tiles[0].shape[0] + 1, width // tiles[0].shape[1] + 1, 1)
        tiles = tuple(np.tile(t, reps) for t in tiles)
    y, x = rng.integers(0, tiles[0].shape[0] - height + 1), rng.integers(0, tiles[0].shape[1] - width + 1)
    return tiles[int(rng.random() < 0.5)][y:y + height, x:x + width]


# ----------------------------------------------------------------------------- the scene
def render_scene(seed: int, index: int, config: SynthConfig = SynthConfig()) -> dict:
    """Render scene ``index`` of the stream ``seed``.

    Returns a dict of numpy arrays (P people that are seen at all, K keypoints of
    ``config.keypoints``, H x W image):

    - ``image`` (H, W, 3) uint8 RGB;
    - ``instances`` (H, W) int32 annotation id of the person at each pixel, 0 = background;
    - ``parts`` (H, W) uint8 part id (:data:`~posekit.synth.parts.PARTS`), 0 = background;
    - ``depth`` (H, W) float32 metres along the camera z axis, 0 = background;
    - ``normals`` (H, W, 3) float32 unit camera-frame surface normals, 0 = background;
    - ``keypoints`` (P, K, 3) float32 x, y (pixels, exact projections) and COCO visibility v;
    - ``keypoints3d`` (P, K, 3) and ``joints3d`` (P, 24, 3) float32 camera frame, metres;
    - ``boxes`` (P, 4) float32 tight x, y, w, h of the visible pixels (pixel centres at
      integer coordinates, so a box spans from ``min - 0.5`` to ``max + 0.5``);
    - ``areas`` (P,) int64 visible pixel counts; ``ids`` (P,) int64 annotation ids;
    - ``image_id`` () int64 (``index + 1``); ``K`` (3, 3) float32 intrinsics;
    - ``camera_R`` (3, 3), ``camera_t`` (3,) float32 world-to-camera;
    - ``body_shape`` (P, S) float32 (:meth:`BodyShape.names`), ``body_pose`` (P, 24, 3, 3) float32
      local joint rotations (joint 0 = orientation in the world), ``body_translation`` (P, 3)
      float32 pelvis position in the world, ``pose_source`` (P,) str.
    """
    if seed < 0 or index < 0:
        raise ValueError("seed and index must be non-negative")
    rng = np.random.default_rng([seed, index])
    W, H = config.width, config.height
    library = pose_library(config)
    K = _intrinsics(rng, W, H)
    people = [_sample_person(rng, library, config) for _ in range(rng.integers(config.people[0], config.people[1] + 1))]
    spots, yaws = _place(rng, people, K, config)
    cam_R, cam_t = _look_at(rng, spots, np.array([p.shape.height for p in people]))
    posed = [_pose_person(p, yaw, spot, i) for i, (p, yaw, spot) in enumerate(zip(people, yaws, spots))]
    prims = Primitives.concatenate([p.prims for p in posed]).transformed(cam_R, cam_t)
    skeleton = get_skeleton(config.keypoints)
    which = point_indices(skeleton.keypoints)
    points = np.stack([p.points[which] for p in posed]) @ cam_R.T + cam_t  # (P, K, 3) camera frame
    offsets = np.cumsum([0] + [len(p.names) for p in posed])
    hosts = np.stack([np.where(h >= 0, h + o, -1) for h, o in
                      zip((host_table(p.names)[which] for p in posed), offsets[:-1])])
    rays = _keypoint_rays(points, hosts, K, W, H)

    # the keypoints' hosts along the keypoints' rays are probed in the same pass as the image
    cast, probe_t = raycast_and_probe(prims, K, W, H, hull_probes(prims, rays.host, rays.dirs, rays.beyond),
                                      np.repeat(np.stack([rays.pu, rays.pv], axis=1)[rays.pair], 2, axis=0))
    pixels = cast.pixels
    prim_at = np.take(cast.index, pixels)
    depth_at = np.take(cast.depth, pixels)
    u, v = pixels % W, pixels // W
    hit = (pixel_rays(K, u, v).T * depth_at).astype(np.float32)  # (3, M)
    image = _background(rng, W, H, K, cam_R, cam_t, config.backgrounds_dir)
    image.reshape(-1, 3)[pixels] = _shade(rng, prims, people, posed, hit, prim_at,
                                          cast.pixel_normals, cam_R, cam_t).T
    image = _camera_effects(rng, image)

    owner = prims.owner[prim_at]
    areas = np.bincount(owner, minlength=len(people))
    seen = np.flatnonzero(areas > 0)
    image_id = index + 1
    ids = np.zeros(len(people), np.int64)
    ids[seen] = image_id * 100 + 1 + np.arange(len(seen))
    owner_map = np.full(H * W, -1, np.int64)
    owner_map[pixels] = owner
    keypoints = _keypoints(rays, *hull_depths_from(probe_t, rays.beyond), cast, owner_map.reshape(H, W))
    joints = np.stack([p.points[:len(JOINTS)] for p in posed]) @ cam_R.T + cam_t

    def paint(values, dtype):  # (M, ...) values of the covered pixels -> (H, W, ...) map, 0 elsewhere
        out = np.zeros((H * W,) + values.shape[1:], dtype)
        out[pixels] = values
        return out.reshape(H, W, *values.shape[1:])

    f32 = np.float32
    return {
        "image": image,
        "instances": paint(ids[owner], np.int32),
        "parts": paint(prims.part[prim_at], np.uint8),
        "depth": paint(depth_at, f32),
        "normals": paint(cast.pixel_normals, f32),
        "keypoints": keypoints[seen].astype(f32),
        "keypoints3d": points[seen].astype(f32),
        "joints3d": joints[seen].astype(f32),
        "boxes": _tight_boxes(u, v, owner, seen).astype(f32),
        "areas": areas[seen].astype(np.int64),
        "ids": ids[seen],
        "image_id": np.int64(image_id),
        "K": K.astype(f32),
        "camera_R": cam_R.astype(f32),
        "camera_t": cam_t.astype(f32),
        "body_shape": np.array([people[p].shape.to_array() for p in seen], f32).reshape(-1, len(BodyShape.names())),
        "body_pose": np.array([posed[p].pose for p in seen], f32).reshape(-1, len(JOINTS), 3, 3),
        "body_translation": np.array([posed[p].translation for p in seen], f32).reshape(-1, 3),
        "pose_source": np.array([people[p].source for p in seen], dtype=str),
    }


def _camera_effects(rng, image: np.ndarray) -> np.ndarray:
    """Optional defocus blur and sensor noise; float RGB in [0, 1] -> uint8."""
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.9))
    scale = rng.uniform(0, 0.03)  # drawn before the noise window
    # 255 (image + scale noise), rounded and saturated to uint8 in one pass
    return cv2.addWeighted(image, 255.0, _sensor_noise(rng, *image.shape[:2]), 255.0 * scale, 0.0, dtype=cv2.CV_8U)


def _tight_boxes(u: np.ndarray, v: np.ndarray, owner: np.ndarray, people: np.ndarray) -> np.ndarray:
    """x, y, w, h (len(people), 4) around the pixels ``(u, v)`` of each of ``people`` (owner
    indices), pixel centres at integer coordinates: a box spans ``min - 0.5`` to ``max + 0.5``."""
    boxes = np.zeros((len(people), 4))
    for i, p in enumerate(people):
        mine = owner == p
        x, y = u[mine], v[mine]
        boxes[i] = x.min() - 0.5, y.min() - 0.5, x.max() - x.min() + 1, y.max() - y.min() + 1
    return boxes


@dataclass
class _KeypointRays:
    """Keypoints (P, K) projected: pixel coordinates ``u``, ``v`` (P, K); the M inside the image,
    ``person``, ``keypoint`` (M,), at pixel ``pu``, ``pv`` (M,) and depth ``z`` (M,); and one ray
    per (keypoint, host) pair: ``pair`` (L,) index into the M, ``host`` (L,) primitive,
    ``dirs`` (L, 3), ``beyond`` (L,) a depth past the host (for :func:`hull_probes`)."""

    u: np.ndarray
    v: np.ndarray
    person: np.ndarray
    keypoint: np.ndarray
    pu: np.ndarray
    pv: np.ndarray
    z: np.ndarray
    pair: np.ndarray
    host: np.ndarray
    dirs: np.ndarray
    beyond: np.ndarray


def _keypoint_rays(points, hosts, K, width, height) -> _KeypointRays:
    """Project camera-frame ``points`` (P, K, 3) whose enclosing primitives are ``hosts``
    (P, K, slots; -1 pads)."""
    z = points[..., 2]
    in_front = z > NEAR
    safe_z = np.where(in_front, z, 1.0)
    u = K[0, 0] * points[..., 0] / safe_z + K[0, 2]
    v = K[1, 1] * points[..., 1] / safe_z + K[1, 2]
    pu, pv = np.floor(u + 0.5).astype(np.int64), np.floor(v + 0.5).astype(np.int64)
    inside = in_front & (pu >= 0) & (pu < width) & (pv >= 0) & (pv < height)
    p_idx, k_idx = np.nonzero(inside)
    pu, pv, z = pu[p_idx, k_idx], pv[p_idx, k_idx], z[p_idx, k_idx]
    # every (keypoint, host) pair at once
    pair, slot = np.nonzero(hosts[p_idx, k_idx] >= 0)
    host = hosts[p_idx[pair], k_idx[pair], slot]
    return _KeypointRays(u, v, p_idx, k_idx, pu, pv, z, pair, host, pixel_rays(K, pu, pv)[pair], z[pair] + 10.0)


def _keypoints(rays: _KeypointRays, t_in, t_out, cast, owner_map) -> np.ndarray:
    """(P, K, 3) projections and visibility (see the module docstring) of the keypoints of
    ``rays``, given where each (keypoint, host) ray enters and leaves its host (``t_in``,
    ``t_out`` (L,), :func:`hull_depths`)."""
    vis = np.zeros(rays.u.shape)
    if len(rays.z):
        # the hosts' extent along the ray, around the point
        met = np.isfinite(t_in)
        entry, leave = rays.z.copy(), rays.z.copy()
        np.minimum.at(entry, rays.pair[met], t_in[met])
        np.maximum.at(leave, rays.pair[met], t_out[met])
        first = cast.depth[rays.pv, rays.pu]  # inf on background
        seen = (
            (owner_map[rays.pv, rays.pu] == rays.person)
            & (first >= entry - 1e-4)  # nothing but the hosts in front
            & (rays.z - entry <= FAR_SIDE * (leave - entry))  # and not behind their bulk
        )
        vis[rays.person, rays.keypoint] = np.where(seen, 2, 1)
    return np.stack([rays.u, rays.v, vis], axis=-1)
