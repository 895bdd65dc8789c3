"""Leeds Sports Pose (LSP / LSPET) to COCO keypoint JSON with the ``lsp14`` skeleton.

``joints.mat`` stores (14, 3, N) in LSPET and (3, 14, N) in the original LSP;
both are accepted. The third row is a visibility flag in LSPET (1 = visible) and
an *occluded* flag in the original LSP (1 = occluded); the layout tells which.

Visibility in the output: v=2 visible; v=1 marked not visible but with
coordinates inside the image (annotated but occluded); v=0 not usable (coordinates
outside the image, as LSPET writes for joints it could not place).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..skeletons import LSP14
from .coco import AnnotationError, keypoint_box


def read_lsp_joints(mat_path: str | Path) -> tuple[np.ndarray, bool]:
    """Read ``joints.mat``. Returns joints (N, 14, 3) as x, y, visible(1/0) and whether it is LSPET layout."""
    import scipy.io

    mat_path = Path(mat_path)
    try:
        mat = scipy.io.loadmat(str(mat_path))
    except FileNotFoundError:
        raise AnnotationError(f"{mat_path}: file missing") from None
    except Exception as e:  # scipy raises several types for non-MAT input
        raise AnnotationError(f"{mat_path}: not a readable MATLAB file ({e})") from None
    if "joints" not in mat:
        raise AnnotationError(f"{mat_path}: no variable 'joints' (found {sorted(k for k in mat if not k.startswith('__'))})")
    j = np.asarray(mat["joints"], dtype=np.float64)
    if j.ndim != 3:
        raise AnnotationError(f"{mat_path}: 'joints' must be 3-D, got shape {j.shape}")
    if j.shape[:2] == (14, 3):  # LSPET: (joint, xyv, image), v = visible
        return j.transpose(2, 0, 1).copy(), True
    if j.shape[:2] == (3, 14):  # original LSP: (xyv, joint, image), v = occluded
        out = j.transpose(2, 1, 0).copy()
        out[..., 2] = 1.0 - out[..., 2]
        return out, False
    raise AnnotationError(f"{mat_path}: 'joints' has shape {j.shape}; expected (14, 3, N) or (3, 14, N)")


def parse_range(text: str | None, n: int) -> tuple[int, int]:
    """``"A:B"`` (1-based, inclusive) -> (A, B); None -> (1, n)."""
    if text is None:
        return 1, n
    try:
        a, b = (int(t) for t in text.split(":"))
    except ValueError:
        raise ValueError(f"--range must look like A:B with integers, got {text!r}") from None
    if not 1 <= a <= b <= n:
        raise ValueError(f"--range {text}: must satisfy 1 <= A <= B <= {n} (images in the file)")
    return a, b


def _image_name(images_dir: Path, number: int) -> str:
    for name in (f"im{number:05d}.jpg", f"im{number:04d}.jpg"):
        if (images_dir / name).is_file():
            return name
    raise AnnotationError(f"{images_dir}: image number {number} missing (looked for im{number:05d}.jpg, im{number:04d}.jpg)")


def convert_lsp(
    joints_path: str | Path,
    images_dir: str | Path,
    out_path: str | Path | None = None,
    image_range: str | None = None,
) -> dict:
    """Convert LSP/LSPET to a COCO keypoint dict (and write it to ``out_path`` if given).

    ``image_id`` is the image number; ``bbox`` is the tight box of the visible
    joints (of all usable joints if none is visible); ``file_name`` is relative to ``images_dir``.
    """
    from PIL import Image

    joints, _ = read_lsp_joints(joints_path)
    images_dir = Path(images_dir)
    a, b = parse_range(image_range, len(joints))
    images, annotations = [], []
    for number in range(a, b + 1):
        name = _image_name(images_dir, number)
        try:
            with Image.open(images_dir / name) as im:
                width, height = im.size
        except OSError:
            raise AnnotationError(f"{images_dir / name}: image file unreadable") from None
        j = joints[number - 1]
        xy = j[:, :2]
        inside = (
            np.isfinite(xy).all(1) & (xy[:, 0] >= 0) & (xy[:, 1] >= 0)
            & (xy[:, 0] <= width - 1) & (xy[:, 1] <= height - 1)
        )
        v = np.where(inside, np.where(j[:, 2] > 0.5, 2, 1), 0)
        kps = np.concatenate([np.where(v[:, None] > 0, xy, 0.0), v[:, None]], 1)
        box = keypoint_box(kps)
        # no usable joint: the whole image, so the record is kept, with num_keypoints 0
        bbox = [0.0, 0.0, float(width), float(height)] if box is None else [float(t) for t in box]
        images.append({"id": number, "file_name": name, "width": width, "height": height})
        annotations.append({
            "id": number,
            "image_id": number,
            "category_id": 1,
            "keypoints": [round(float(t), 3) for t in kps.reshape(-1)],
            "num_keypoints": int((v > 0).sum()),
            "bbox": [round(t, 3) for t in bbox],
            "area": round(bbox[2] * bbox[3], 3),
            "iscrowd": 0,
        })
    data = {
        "info": {"description": f"LSP/LSPET converted by posekit from {Path(joints_path).name}, images {a}..{b}"},
        "images": images,
        "annotations": annotations,
        "categories": [LSP14.to_coco_category()],
    }
    if out_path is not None:
        from .coco import save_coco

        save_coco(data, out_path)
    return data
