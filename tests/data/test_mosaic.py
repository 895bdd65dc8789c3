import json

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.data.coco import load_coco
from posekit.data.mosaic import render_mosaic, write_mosaics
from posekit.skeletons import LSP14
from tests.conftest import write_tiny_coco


@pytest.fixture
def drawn(tmp_path):
    path = write_tiny_coco(tmp_path / "tiny", n_images=12, size=64)
    return load_coco(path, images_dir=tmp_path / "tiny" / "images"), json.loads(path.read_text())


def _spotted_person(folder):
    """One image whose 14 joints are separate discs (radius 5) of distinct colours; returns the dataset."""
    folder.mkdir(parents=True)
    grid = np.stack(np.meshgrid(np.arange(4), np.arange(4)), -1).reshape(-1, 2)[:14]
    kps = 14.3 + 22.0 * grid + np.random.default_rng(0).uniform(-2, 2, (14, 2))
    colours = [(40 + 15 * k, 250 - 14 * k, (97 * k) % 256) for k in range(14)]
    image = np.full((96, 96, 3), 20, np.uint8)
    for (x, y), colour in zip(kps, colours):
        cv2.circle(image, (int(round(x)), int(round(y))), 5, colour, -1)
    cv2.imwrite(str(folder / "spots.png"), image)
    x0, y0 = kps.min(0)
    w, h = kps.max(0) - kps.min(0)
    (folder / "ann.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "spots.png", "width": 96, "height": 96}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "num_keypoints": 14,
                         "keypoints": np.concatenate([kps, np.full((14, 1), 2)], 1).reshape(-1).tolist(),
                         "bbox": [x0, y0, w, h], "area": w * h}],
        "categories": [LSP14.to_coco_category()]}))
    return load_coco(folder / "ann.json", images_dir=folder), np.array(colours)


def test_tiled_keypoints_land_on_their_own_joint(tmp_path):
    coco, colours = _spotted_person(tmp_path / "spots")
    shown = 0
    for index in range(8):
        canvas, cells = render_mosaic(coco, index, seed=3, size=(160, 128), grid=(1, 3), scale=(0.7, 1.0))
        for cell in cells:
            for k, (x, y, v) in enumerate(cell["keypoints"]):
                if v > 0:
                    pixel = canvas[int(round(y)), int(round(x))].astype(np.int64)
                    assert np.abs(pixel - colours[k]).sum() < 30, (index, k)
                    shown += 1
    assert shown > 100


def test_mosaic_depends_only_on_seed_and_index(drawn):
    coco, _ = drawn
    a, cells_a = render_mosaic(coco, 5, seed=1)
    b, cells_b = render_mosaic(coco, 5, seed=1)
    c, _ = render_mosaic(coco, 6, seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert all(np.array_equal(p["keypoints"], q["keypoints"]) for p, q in zip(cells_a, cells_b))


def test_written_mosaics_are_valid_coco_with_every_cell_annotated(drawn, tmp_path):
    coco, _ = drawn
    path = write_mosaics(coco, 8, tmp_path / "mosaics", seed=0, size=(96, 80), grid=(1, 3))
    data = json.loads(path.read_text())
    loaded = load_coco(path, images_dir=tmp_path / "mosaics" / "images")
    assert len(loaded.images) == 8
    cells = [len(render_mosaic(coco, i, 0, (96, 80), (1, 3))[1]) for i in range(8)]
    assert len(data["annotations"]) == sum(cells) and max(cells) > min(cells)
    for ann in data["annotations"]:
        kps = np.array(ann["keypoints"]).reshape(-1, 3)
        assert ann["num_keypoints"] == int((kps[:, 2] > 0).sum())
        assert np.all(kps[kps[:, 2] == 0] == 0)
        visible = kps[kps[:, 2] > 0]
        assert np.all((visible[:, :2] >= -0.5) & (visible[:, :2] <= (95.5, 79.5)))
        assert ann["source_id"] in {p.id for p in coco.people}


def test_cli_mosaic_rejects_a_bad_grid_with_a_clear_message(drawn, tmp_path, capsys):
    ann = tmp_path / "tiny" / "annotations.json"
    args = ["convert", "mosaic", "--ann", str(ann), "--images", str(tmp_path / "tiny" / "images"),
            "--out", str(tmp_path / "m"), "--n", "2"]
    assert main(args + ["--grid", "3:1"]) == 2
    assert "grid must be A:B with 1 <= A <= B" in capsys.readouterr().err
    assert main(args) == 0
    assert len(json.loads((tmp_path / "m" / "annotations.json").read_text())["images"]) == 2
