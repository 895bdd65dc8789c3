"""Writing synthetic datasets to disk and reading samples back.

Layout of ``out_dir``::

    annotations.json     COCO keypoints; file_name is relative to images/
    images/<stem>.jpg    (or .png) the RGB image, written with cv2
    labels/<stem>.npz    dense labels and 3D ground truth, see below
    preview.png          optional contact sheet

``<stem>`` is the zero-padded scene index. ``labels/<stem>.npz`` holds every array
of :func:`~posekit.synth.scene.render_scene` except the image: ``instances`` (H, W)
int32 COCO annotation id per pixel (0 = background), ``parts`` (H, W) uint8,
``depth`` (H, W) float32 metres, ``normals`` (H, W, 3) float32, ``keypoints3d``
(P, K, 3) float32 in the order of the image's annotations, ``K`` (3, 3), and
``keypoints``, ``joints3d``, ``boxes``, ``areas``, ``ids``, ``image_id``,
``camera_R``, ``camera_t``, ``body_shape`` (+ ``body_shape_names``),
``body_pose``, ``body_translation``, ``pose_source``.
"""
from __future__ import annotations

import functools
import io
import json
import multiprocessing
import struct
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
from isal.isal_zlib import crc32  # zlib's CRC-32, about 10x faster on large buffers

from ..skeletons import get_skeleton
from .body import BodyShape
from .parts import PARTS
from .scene import SynthConfig, pose_library, render_scene

PREVIEW_SCENES = 4
# zip records of an uncompressed archive (PKWARE APPNOTE 4.3): local file header, central
# directory header, end of central directory; DOS date 1980-01-01 (as zipfile.ZipInfo)
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_CENTRAL_HEADER = struct.Struct("<4s6H3L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP_VERSION, _DOS_DATE, _FILE_ATTRIBUTES = 20, (1 << 5) | 1, 0o600 << 16


def stem(index: int) -> str:
    return f"{index:06d}"


def coco_records(sample: dict, file_name: str) -> tuple[dict, list[dict]]:
    """The COCO image record and annotation records of a rendered sample.

    Keypoints outside the image (v = 0) are written as 0, 0, 0, as COCO does.
    """
    height, width = sample["instances"].shape
    image_id = int(sample["image_id"])
    image = {"id": image_id, "file_name": file_name, "width": width, "height": height}
    annotations = []
    for ann_id, kps, box, area in zip(sample["ids"], sample["keypoints"], sample["boxes"], sample["areas"]):
        flat = []
        for x, y, v in kps:
            flat += [round(float(x), 2), round(float(y), 2), int(v)] if v > 0 else [0, 0, 0]
        annotations.append({
            "id": int(ann_id), "image_id": image_id, "category_id": 1,
            "keypoints": flat, "num_keypoints": int(np.count_nonzero(kps[:, 2])),
            "bbox": [round(float(b), 2) for b in box], "area": int(area), "iscrowd": 0,
        })
    return image, annotations


@functools.lru_cache(maxsize=256)
def _npy_header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` format 1.0 header of a C-ordered array."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(dtype),
                                                  "fortran_order": False, "shape": shape})
    return header.getvalue()


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """What ``np.savez(path, **arrays)`` writes, without its per-array overhead: the ``.npy``
    members are written straight from the arrays' memory. Timestamps are fixed, so equal arrays
    give equal files."""
    pieces, directory, offset = [], [], 0
    for key, array in arrays.items():
        array = np.asarray(array, order="C")
        header = _npy_header(array.dtype, array.shape)
        data = memoryview(array.reshape(-1).view(np.uint8))
        name, size = f"{key}.npy".encode(), len(header) + data.nbytes
        crc = crc32(data, crc32(header))
        fields = (0, 0, 0, _DOS_DATE, crc, size, size, len(name), 0)
        pieces += [_LOCAL_HEADER.pack(b"PK\x03\x04", _ZIP_VERSION, *fields), name, header, data]
        directory += [_CENTRAL_HEADER.pack(b"PK\x01\x02", _ZIP_VERSION, _ZIP_VERSION, *fields, 0, 0, 0,
                                           _FILE_ATTRIBUTES, offset), name]
        offset += _LOCAL_HEADER.size + len(name) + size
    directory_size = sum(len(p) for p in directory)
    end = _END_RECORD.pack(b"PK\x05\x06", 0, 0, len(arrays), len(arrays), directory_size, offset, 0)
    with open(path, "wb") as f:
        for piece in pieces + directory + [end]:
            f.write(piece)


def write_sample(sample: dict, out_dir: str | Path, index: int, image_format: str = "jpg",
                 compress: bool = False) -> tuple[dict, list[dict]]:
    """Write one sample's image and labels; return its COCO records."""
    out_dir = Path(out_dir)
    name = f"{stem(index)}.{image_format}"
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    if not cv2.imwrite(str(out_dir / "images" / name), cv2.cvtColor(sample["image"], cv2.COLOR_RGB2BGR), params):
        raise OSError(f"could not write {out_dir / 'images' / name}")
    labels = {k: v for k, v in sample.items() if k != "image"}
    labels["body_shape_names"] = np.array(BodyShape.names())
    path = out_dir / "labels" / f"{stem(index)}.npz"
    if compress:
        np.savez_compressed(path, **labels)
    else:
        save_npz(path, labels)
    return coco_records(sample, name)


def _render_and_write(job) -> tuple[dict, list[dict], dict | None]:
    seed, index, config, out_dir, image_format, compress, keep = job
    sample = render_scene(seed, index, config)
    image, anns = write_sample(sample, out_dir, index, image_format, compress)
    return image, anns, sample if keep else None


def generate(n: int, out_dir: str | Path, seed: int = 0, config: SynthConfig = SynthConfig(),
             image_format: str = "jpg", preview: bool = False, compress: bool = False,
             workers: int = 0) -> Path:
    """Render scenes ``0 .. n-1`` of ``seed`` into ``out_dir`` (see the module docstring).

    Args:
        image_format: ``jpg`` (quality 95) or ``png``.
        preview: also write ``preview.png``, a contact sheet of the first scenes.
        compress: deflate the label files (about 9x smaller, several times slower).
        workers: render in this many processes (0: in this one).
    Returns:
        the path of ``annotations.json``.
    """
    if n < 0:
        raise ValueError(f"number of scenes must be >= 0, got {n}")
    if image_format not in ("jpg", "png"):
        raise ValueError(f"image_format must be jpg or png, got {image_format!r}")
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    pose_library(config)  # load mocap once, before any worker forks
    jobs = [(seed, i, config, out_dir, image_format, compress, preview and i < PREVIEW_SCENES) for i in range(n)]
    if workers > 0:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = list(pool.imap(_render_and_write, jobs, chunksize=8))
    else:
        results = [_render_and_write(job) for job in jobs]
    skeleton = get_skeleton(config.keypoints)
    coco = {
        "info": {"description": "posekit synthetic humans", "seed": seed, "config": asdict(config)},
        "images": [r[0] for r in results],
        "annotations": [a for r in results for a in r[1]],
        "categories": [skeleton.to_coco_category()],
        "posekit_parts": list(PARTS),
    }
    path = out_dir / "annotations.json"
    path.write_text(json.dumps(coco))
    if preview:
        from .preview import contact_sheet

        sheet = contact_sheet([r[2] for r in results if r[2] is not None], skeleton)
        cv2.imwrite(str(out_dir / "preview.png"), sheet[..., ::-1])
    return path


def load_sample(out_dir: str | Path, index: int) -> dict:
    """Read scene ``index`` of a generated folder back as the dict :func:`render_scene` returns
    (plus ``body_shape_names``); ``image`` is RGB uint8."""
    out_dir = Path(out_dir)
    with np.load(out_dir / "labels" / f"{stem(index)}.npz") as npz:
        sample = {k: npz[k] for k in npz.files}
    for suffix in ("jpg", "png"):
        path = out_dir / "images" / f"{stem(index)}.{suffix}"
        if path.exists():
            sample["image"] = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].copy()
            return sample
    raise FileNotFoundError(f"no image for scene {index} in {out_dir / 'images'}")
