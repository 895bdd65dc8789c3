"""Mosaics: multi-person images tiled from single-person crops (LSPET people for bottom-up training).

Bottom-up models learn from whole images in which every person is annotated. Real
single-person sets (LSP, LSPET) annotate one person per photo, so posekit tiles
them: mosaic i is a ``size`` canvas cut into an r x c grid (r and c drawn from
``grid``; a 1x1 mosaic is one large person, 3x3 nine small ones), and each cell shows
one random person of the source set:

- the person's box is padded by ``padding`` and fixed to the cell's aspect ratio
  (:func:`posekit.data.transforms.box_to_centre_scale`), scaled to a random
  fraction ``scale`` of the cell, and put at a random place inside it; the photo is
  warped with that UDP affine (:func:`~posekit.data.transforms.crop_matrix`);
- keypoints follow the same affine; those that land outside the person's patch
  (the tiling cut them off) become v = 0, the others keep their visibility;
- the rest of the cell is a flat random colour, so no unannotated person shows.

Scene i depends only on (seed, i). The output is the one on-disk format: COCO
keypoint JSON (the source's skeleton) with ``images/<index>.jpg`` beside it; each
annotation also records ``source_id``, the source annotation it shows.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .coco import CocoKeypoints, save_coco
from .transforms import apply_affine, box_to_centre_scale, crop_matrix, warp_image


def render_mosaic(coco: CocoKeypoints, index: int, seed: int = 0, size: tuple[int, int] = (256, 256),
                  grid: tuple[int, int] = (1, 3), scale: tuple[float, float] = (0.7, 1.0),
                  padding: float = 1.25) -> tuple[np.ndarray, list[dict]]:
    """Mosaic ``index`` of ``seed``.

    Args:
        coco: the source people (their images must resolve to paths).
        size: canvas (W, H) in pixels.
        grid: smallest and largest number of rows (and, independently, columns).
        scale: range of a person's patch size as a fraction of its cell.
    Returns:
        BGR uint8 (H, W, 3) and, per cell, a dict with ``keypoints`` (K, 3) in canvas
        pixels (v in {0, 1, 2}), ``box`` (x0, y0, x1, y1) of the patch and ``source_id``.
    """
    people = coco.trainable_people()
    if not people:
        raise ValueError(f"{coco.path}: no person with keypoints to tile")
    rng = np.random.default_rng((seed, index))
    width, height = size
    rows, cols = rng.integers(grid[0], grid[1] + 1, 2)
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = rng.integers(0, 256, 3).astype(np.uint8)
    edges_x = np.linspace(0, width, cols + 1).round().astype(int)
    edges_y = np.linspace(0, height, rows + 1).round().astype(int)
    cells = []
    for r in range(rows):
        for c in range(cols):
            person = people[rng.integers(len(people))]
            cell_w, cell_h = edges_x[c + 1] - edges_x[c], edges_y[r + 1] - edges_y[r]
            fraction = rng.uniform(*scale)
            patch_w, patch_h = max(2, int(cell_w * fraction)), max(2, int(cell_h * fraction))
            x0 = edges_x[c] + rng.integers(cell_w - patch_w + 1)
            y0 = edges_y[r] + rng.integers(cell_h - patch_h + 1)
            centre, box_scale = box_to_centre_scale(person.bbox, patch_w / patch_h, padding)
            affine = crop_matrix(centre, box_scale, 0.0, (patch_w, patch_h))
            image = cv2.imread(str(coco.images[person.image_id].path), cv2.IMREAD_COLOR)
            if image is None:
                raise FileNotFoundError(f"{coco.images[person.image_id].path}: image file missing or unreadable")
            canvas[y0:y0 + patch_h, x0:x0 + patch_w] = warp_image(image, affine, (patch_w, patch_h))
            xy = apply_affine(person.keypoints[:, :2], affine)
            inside = (xy[:, 0] >= -0.5) & (xy[:, 0] <= patch_w - 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= patch_h - 0.5)
            v = np.where(inside, person.keypoints[:, 2], 0)
            keypoints = np.concatenate([xy + (x0, y0), v[:, None]], 1).astype(np.float32)
            keypoints[v == 0] = 0
            cells.append({"keypoints": keypoints, "box": (x0, y0, x0 + patch_w, y0 + patch_h), "source_id": person.id})
    return canvas, cells


def _annotation(cell: dict, ann_id: int, image_id: int) -> dict:
    """COCO record of one tiled person: bbox = tight box of the visible joints (as ``convert lsp``)."""
    kps, v = cell["keypoints"], cell["keypoints"][:, 2]
    box_pts = kps[v == 2, :2] if (v == 2).any() else kps[v > 0, :2]
    if len(box_pts):
        (bx0, by0), (bx1, by1) = box_pts.min(0), box_pts.max(0)
        bbox = [float(bx0), float(by0), max(float(bx1 - bx0), 1.0), max(float(by1 - by0), 1.0)]
    else:  # every joint cut off: the patch, kept with num_keypoints 0 so a loss can mask it
        x0, y0, x1, y1 = cell["box"]
        bbox = [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
    return {
        "id": ann_id, "image_id": image_id, "category_id": 1,
        "keypoints": [round(float(t), 2) for t in kps.reshape(-1)],
        "num_keypoints": int((v > 0).sum()), "bbox": [round(t, 2) for t in bbox],
        "area": round(bbox[2] * bbox[3], 2), "iscrowd": 0, "source_id": int(cell["source_id"]),
    }


def write_mosaics(coco: CocoKeypoints, n: int, out_dir: str | Path, seed: int = 0,
                  size: tuple[int, int] = (256, 256), grid: tuple[int, int] = (1, 3),
                  scale: tuple[float, float] = (0.7, 1.0), padding: float = 1.25) -> Path:
    """Write mosaics 0..n-1 as ``out_dir/images/<index>.jpg`` + ``out_dir/annotations.json``; returns its path."""
    if n < 0:
        raise ValueError(f"number of mosaics must be >= 0, got {n}")
    if not 1 <= grid[0] <= grid[1]:
        raise ValueError(f"grid must be A:B with 1 <= A <= B, got {grid[0]}:{grid[1]}")
    if not 0 < scale[0] <= scale[1] <= 1:
        raise ValueError(f"scale must be A:B with 0 < A <= B <= 1, got {scale[0]}:{scale[1]}")
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(n):
        canvas, cells = render_mosaic(coco, index, seed, size, grid, scale, padding)
        name = f"{index:06d}.jpg"
        if not cv2.imwrite(str(out_dir / "images" / name), canvas, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f"could not write {out_dir / 'images' / name}")
        image_id = index + 1
        images.append({"id": image_id, "file_name": name, "width": size[0], "height": size[1]})
        annotations += [_annotation(cell, len(annotations) + 1 + j, image_id) for j, cell in enumerate(cells)]
    data = {
        "info": {"description": f"posekit mosaics of {coco.path}", "seed": seed, "grid": list(grid),
                 "scale": list(scale), "padding": padding},
        "images": images, "annotations": annotations, "categories": [coco.skeleton.to_coco_category()],
    }
    path = out_dir / "annotations.json"
    save_coco(data, path)
    return path
