"""COCO keypoint JSON: the one on-disk annotation format of posekit.

:func:`load_coco` reads and validates a keypoint file for any skeleton. Every
problem is reported as one :class:`AnnotationError` naming the file, the record
and what is wrong; records that are legitimately unusable for training (crowd
regions, people without keypoints) are kept and flagged, never dropped silently.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..skeletons import Skeleton, get_skeleton, skeleton_from_category


class AnnotationError(ValueError):
    """A malformed annotation file; the message names the file, record and problem."""


@dataclass
class ImageInfo:
    id: int
    file_name: str
    width: int
    height: int
    path: Path | None  # resolved image path, when an image folder is known


@dataclass
class Person:
    """One person annotation. ``keypoints`` is (K, 3) float32: x, y in pixels and v in {0,1,2}."""

    id: int
    image_id: int
    bbox: np.ndarray  # (4,) x, y, w, h in pixels
    keypoints: np.ndarray  # (K, 3)
    area: float
    iscrowd: bool
    num_keypoints: int


@dataclass
class CocoKeypoints:
    """A validated COCO keypoint dataset."""

    path: Path | None
    skeleton: Skeleton
    images: dict[int, ImageInfo]
    people: list[Person]
    category_id: int = 1
    raw: dict = field(default_factory=dict, repr=False)

    def trainable_people(self) -> list[Person]:
        """People that give pose supervision: not crowd and at least one labelled keypoint."""
        return [p for p in self.people if not p.iscrowd and p.num_keypoints > 0]

    def first_images(self, limit: int | None) -> "CocoKeypoints":
        """The dataset restricted to its ``limit`` lowest image ids and their people (all if None)."""
        if limit is None:
            return self
        keep = set(sorted(self.images)[:limit])
        return dataclasses.replace(self, images={i: info for i, info in self.images.items() if i in keep},
                                   people=[p for p in self.people if p.image_id in keep])

    def with_keypoint_boxes(self) -> "CocoKeypoints":
        """The dataset with every person's box replaced by the tight box of its keypoints
        (:func:`keypoint_box`), the boxes LSP's converter writes; people without keypoints keep theirs."""
        people = []
        for p in self.people:
            box = keypoint_box(p.keypoints)
            people.append(p if box is None else dataclasses.replace(p, bbox=box.astype(np.float32)))
        return dataclasses.replace(self, people=people)

    def concat(self, other: "CocoKeypoints") -> "CocoKeypoints":
        """Both datasets as one (same skeleton): ``other``'s image and person ids are shifted past this one's,
        so every id stays unique; ``path`` and ``raw`` are this dataset's."""
        if other.skeleton.name != self.skeleton.name:
            raise ValueError(f"{other.path}: skeleton {other.skeleton.name}, cannot join {self.path} "
                             f"({self.skeleton.name})")
        image_shift = max(self.images, default=0) + 1
        person_shift = max((p.id for p in self.people), default=0) + 1
        images = dict(self.images)
        for i, info in other.images.items():
            images[i + image_shift] = dataclasses.replace(info, id=i + image_shift)
        people = self.people + [dataclasses.replace(p, id=p.id + person_shift, image_id=p.image_id + image_shift)
                                for p in other.people]
        return dataclasses.replace(self, images=images, people=people)

    def people_by_image(self) -> dict[int, list[Person]]:
        out: dict[int, list[Person]] = {i: [] for i in self.images}
        for p in self.people:
            out[p.image_id].append(p)
        return out


def keypoint_box(keypoints: np.ndarray) -> np.ndarray | None:
    """Tight (x, y, w, h) box of the visible keypoints (v=2), else of all labelled ones (v>0); at least
    1 px a side. keypoints: (K, 3). None when no keypoint is labelled."""
    v = keypoints[:, 2]
    points = keypoints[v == 2, :2] if (v == 2).any() else keypoints[v > 0, :2]
    if not len(points):
        return None
    (x0, y0), (x1, y1) = points.min(0), points.max(0)
    return np.array([x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)], np.float64)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise AnnotationError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise AnnotationError(f"{path}: not UTF-8 text (byte {e.start}); COCO JSON must be UTF-8") from None
    except json.JSONDecodeError as e:
        raise AnnotationError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


def _fail(path, where: str, problem: str):
    raise AnnotationError(f"{path}: {where}: {problem}")


def _number(value, path, where, name) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(path, where, f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        _fail(path, where, f"{name} is {value} (not finite)")
    return float(value)


def load_coco(
    source: str | Path | dict,
    images_dir: str | Path | None = None,
    skeleton: Skeleton | str | None = None,
    check_images: bool = False,
) -> CocoKeypoints:
    """Read and validate a COCO keypoint file (or an already-parsed dict).

    Args:
        source: path to the JSON file, or the parsed dict.
        images_dir: folder the ``file_name`` entries are relative to. Default: the
            folder next to the JSON named ``images`` if it exists, else none.
        skeleton: keypoint set; default: from the person category.
        check_images: also check every image file exists and is readable.
    Raises:
        AnnotationError naming the file, record id and problem.
    """
    path = None
    if isinstance(source, dict):
        data = source
        where_file = "<dict>"
    else:
        path = Path(source)
        where_file = str(path)
        data = _read_json(path)
    if not isinstance(data, dict):
        _fail(where_file, "top level", f"expected a JSON object, got {type(data).__name__}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            _fail(where_file, "top level", f"missing key {key!r}")
        if not isinstance(data[key], list):
            _fail(where_file, key, f"must be a list, got {type(data[key]).__name__}")

    categories = [c for c in data["categories"] if isinstance(c, dict) and "keypoints" in c]
    if skeleton is None:
        if not categories:
            _fail(where_file, "categories", "no category with 'keypoints'; pass a skeleton explicitly")
        try:
            skeleton = skeleton_from_category(categories[0])
        except KeyError as e:
            _fail(where_file, f"category id={categories[0].get('id')}", e.args[0])
    elif isinstance(skeleton, str):
        skeleton = get_skeleton(skeleton)
    category_id = categories[0].get("id", 1) if categories else 1

    if images_dir is None and path is not None and (path.parent / "images").is_dir():
        images_dir = path.parent / "images"
    images_dir = Path(images_dir) if images_dir is not None else None

    if check_images and images_dir is None:
        _fail(where_file, "images", "check_images needs an image folder (pass images_dir)")
    images: dict[int, ImageInfo] = {}
    for i, rec in enumerate(data["images"]):
        where = f"image #{i}"
        if not isinstance(rec, dict):
            _fail(where_file, where, "must be an object")
        for key in ("id", "file_name"):
            if key not in rec:
                _fail(where_file, where, f"missing key {key!r}")
        where = f"image id={rec['id']}"
        if rec["id"] in images:
            _fail(where_file, where, "duplicate image id")
        w = int(_number(rec.get("width", 0), where_file, where, "width"))
        h = int(_number(rec.get("height", 0), where_file, where, "height"))
        img_path = images_dir / rec["file_name"] if images_dir is not None else None
        if check_images and img_path is not None:
            _check_image(img_path, where_file, where)
        images[rec["id"]] = ImageInfo(rec["id"], rec["file_name"], w, h, img_path)

    k = skeleton.num_keypoints
    people: list[Person] = []
    seen_ids = set()
    for i, rec in enumerate(data["annotations"]):
        where = f"annotation #{i}"
        if not isinstance(rec, dict):
            _fail(where_file, where, "must be an object")
        if "id" not in rec:
            _fail(where_file, where, "missing key 'id'")
        where = f"annotation id={rec['id']}"
        for key in ("image_id", "bbox"):
            if key not in rec:
                _fail(where_file, where, f"missing key {key!r}")
        if categories and rec.get("category_id", category_id) != category_id:
            continue  # another category (e.g. non-person objects) is not ours to read
        if rec["id"] in seen_ids:
            _fail(where_file, where, "duplicate annotation id")
        seen_ids.add(rec["id"])
        if rec["image_id"] not in images:
            _fail(where_file, where, f"unknown image_id {rec['image_id']!r}")
        iscrowd = bool(rec.get("iscrowd", 0))
        bbox = rec["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            _fail(where_file, where, f"bbox must be [x, y, w, h], got {bbox!r}")
        bbox = np.array([_number(v, where_file, where, "bbox value") for v in bbox], np.float32)
        if bbox[2] <= 0 or bbox[3] <= 0:
            _fail(where_file, where, f"bbox has zero or negative size {bbox.tolist()}")
        kps = rec.get("keypoints")
        if kps is None:
            if not iscrowd:
                _fail(where_file, where, "missing key 'keypoints'")
            kps = [0] * (3 * k)
        if not isinstance(kps, list) or len(kps) != 3 * k:
            n = len(kps) if isinstance(kps, list) else type(kps).__name__
            _fail(where_file, where, f"keypoints must hold {3 * k} numbers ({k} x [x, y, v]) for {skeleton.name}, got {n}")
        kps = np.array([_number(v, where_file, where, "keypoint value") for v in kps], np.float32).reshape(k, 3)
        vis = kps[:, 2]
        if not np.isin(vis, (0, 1, 2)).all():
            _fail(where_file, where, f"keypoint visibility must be 0, 1 or 2, got {sorted(set(vis.tolist()))}")
        num = int((vis > 0).sum())
        if "num_keypoints" in rec and int(rec["num_keypoints"]) != num:
            _fail(where_file, where, f"num_keypoints is {rec['num_keypoints']} but {num} keypoints are labelled")
        area = _number(rec.get("area", float(bbox[2] * bbox[3])), where_file, where, "area")
        if area <= 0:
            _fail(where_file, where, f"area must be positive, got {area}")
        people.append(Person(rec["id"], rec["image_id"], bbox, kps, area, iscrowd, num))

    return CocoKeypoints(path, skeleton, images, people, category_id, data)


def _check_image(img_path: Path, where_file, where):
    import cv2

    if not img_path.is_file():
        _fail(where_file, where, f"image file missing: {img_path}")
    if cv2.imread(str(img_path), cv2.IMREAD_UNCHANGED) is None:
        _fail(where_file, where, f"image file unreadable: {img_path}")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as (H, W, 3) uint8 RGB; a clear error if missing or unreadable."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: image file missing")
        raise ValueError(f"{path}: image file unreadable (not an image cv2 can decode)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def save_coco(data: dict, path: str | Path) -> None:
    """Write a COCO dict as JSON (atomically: temp file then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def load_results(path: str | Path, num_keypoints: int) -> list[dict]:
    """Read COCO keypoint results ``[{image_id, category_id, keypoints, score, ...}]`` with validation."""
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, list):
        _fail(path, "top level", "COCO results must be a JSON list of objects")
    for i, r in enumerate(data):
        where = f"result #{i}"
        if not isinstance(r, dict):
            _fail(path, where, "must be an object")
        for key in ("image_id", "keypoints"):
            if key not in r:
                _fail(path, where, f"missing key {key!r}")
        kps = r["keypoints"]
        if not isinstance(kps, list) or len(kps) != 3 * num_keypoints:
            n = len(kps) if isinstance(kps, list) else type(kps).__name__
            _fail(path, where, f"keypoints must hold {3 * num_keypoints} numbers, got {n}")
        for v in kps:
            _number(v, path, where, "keypoint value")
        r.setdefault("category_id", 1)
        if "score" in r:
            _number(r["score"], path, where, "score")
        else:
            r["score"] = float(np.mean(kps[2::3]))
    return data
