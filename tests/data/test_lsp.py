import json

import numpy as np
import pytest
import scipy.io

from posekit.cli import main
from posekit.data.coco import AnnotationError, load_coco
from posekit.data.lsp import convert_lsp, read_lsp_joints
from tests.conftest import shared


def _fake_lsp(tmp_path, layout):
    import cv2

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    joints = np.zeros((3, 14, 3))  # N=3 images, 14 joints, x y flag
    for n in range(3):
        cv2.imwrite(str(images / f"im{n + 1:04d}.jpg"), np.zeros((100, 80, 3), np.uint8))
        joints[n, :, :2] = rng.uniform(5, 75, (14, 2))
        joints[n, :, 2] = 1
    joints[1, 3] = [-5, 40, 0]  # unusable: outside the image
    joints[1, 4, 2] = 0  # invisible but inside
    if layout == "lspet":
        mat = joints.transpose(1, 2, 0)  # (14, 3, N), flag = visible
    else:
        flipped = joints.copy()
        flipped[..., 2] = 1 - flipped[..., 2]  # original LSP stores 'occluded'
        mat = flipped.transpose(2, 1, 0)  # (3, 14, N)
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": mat})
    return tmp_path / "joints.mat", images, joints


@pytest.mark.parametrize("layout", ["lspet", "lsp"])
def test_both_joint_layouts_give_the_same_coco(tmp_path, layout):
    mat, images, joints = _fake_lsp(tmp_path, layout)
    read, is_lspet = read_lsp_joints(mat)
    assert is_lspet == (layout == "lspet")
    data = convert_lsp(mat, images, tmp_path / "out.json", "2:3")
    assert [im["id"] for im in data["images"]] == [2, 3]
    ann = data["annotations"][0]
    kps = np.array(ann["keypoints"]).reshape(14, 3)
    assert kps[3].tolist() == [0, 0, 0]  # outside -> v=0
    assert kps[4, 2] == 1  # occluded inside -> v=1
    assert ann["num_keypoints"] == 13
    vis = joints[1][kps[:, 2] == 2][:, :2]
    np.testing.assert_allclose(ann["bbox"][:2], vis.min(0), atol=1e-3)
    np.testing.assert_allclose(np.add(ann["bbox"][:2], ann["bbox"][2:]), vis.max(0), atol=1e-3)
    assert load_coco(tmp_path / "out.json").skeleton.name == "lsp14"


def test_bad_range_and_bad_file_give_clear_errors(tmp_path):
    mat, images, _ = _fake_lsp(tmp_path, "lspet")
    with pytest.raises(ValueError, match="1 <= A <= B <= 3"):
        convert_lsp(mat, images, None, "2:9")
    (tmp_path / "bad.mat").write_text("not a mat file")
    with pytest.raises(AnnotationError, match="bad.mat"):
        read_lsp_joints(tmp_path / "bad.mat")
    scipy.io.savemat(tmp_path / "shape.mat", {"joints": np.zeros((5, 3, 2))})
    with pytest.raises(AnnotationError, match=r"expected \(14, 3, N\) or \(3, 14, N\)"):
        read_lsp_joints(tmp_path / "shape.mat")


def test_cli_convert_lspet_train_split_gives_8500_people(tmp_path):
    lsp = shared("lspet")
    out = tmp_path / "train.json"
    assert main(["convert", "lsp", "--joints", str(lsp / "joints.mat"), "--images", str(lsp / "images"),
                 "--out", str(out), "--range", "1:8500"]) == 0
    data = json.loads(out.read_text())
    assert len(data["annotations"]) == 8500
    assert data["images"][0]["file_name"] == "im00001.jpg" and data["images"][-1]["id"] == 8500
    coco = load_coco(out, images_dir=lsp / "images")
    assert len(coco.trainable_people()) == 8500


def test_lspet_test_split_ground_truth_as_predictions_scores_pck_1(tmp_path):
    from posekit.metrics import evaluate

    lsp = shared("lspet")
    coco = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:9500"), images_dir=lsp / "images")
    results = [{"image_id": p.image_id, "category_id": 1, "score": 1.0,
                "keypoints": np.concatenate([p.keypoints[:, :2], np.ones((14, 1))], 1).reshape(-1).tolist()}
               for p in coco.trainable_people()]
    metrics = evaluate(coco, results, "pck")
    assert metrics["num_people"] == 1000
    assert metrics["PCK@0.2"] == 1.0 and metrics["PCK@0.2_bbox"] == 1.0 and metrics["EPE"] == 0.0
    shifted = [{**r, "keypoints": [v + 1000.0 if i % 3 == 0 else v for i, v in enumerate(r["keypoints"])]} for r in results]
    assert evaluate(coco, shifted, "pck")["PCK@0.2"] == 0.0
