import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.skeletons import get_skeleton
from posekit.synth import SynthConfig, SynthDataset, generate, load_sample, render_scene
from posekit.synth import cli
from posekit.synth.io import save_npz

REPO = Path(__file__).parents[2]


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    argv = ["--n", "6", "--out", str(out), "--seed", "7", "--people", "2:3", "--size", "96x80",
            "--keypoints", "lsp14", "--format", "png", "--mocap", "none", "--preview"]
    assert run_cli(argv) == 0
    return out


def test_cli_writes_a_coco_keypoint_file(written):
    coco = json.loads((written / "annotations.json").read_text())
    skeleton = get_skeleton("lsp14")
    assert coco["categories"] == [skeleton.to_coco_category()]
    assert [im["id"] for im in coco["images"]] == list(range(1, 7))
    ids = [a["id"] for a in coco["annotations"]]
    assert len(ids) == len(set(ids)) >= 6
    for image in coco["images"]:
        assert (image["width"], image["height"]) == (96, 80)
        pixels = cv2.imread(str(written / "images" / image["file_name"]))
        assert pixels.shape == (80, 96, 3)
    for ann in coco["annotations"]:
        assert ann["category_id"] == 1 and ann["iscrowd"] == 0
        kps = np.array(ann["keypoints"]).reshape(skeleton.num_keypoints, 3)
        assert set(kps[:, 2]) <= {0, 1, 2} and ann["num_keypoints"] == np.count_nonzero(kps[:, 2])
        assert np.all(kps[kps[:, 2] == 0, :2] == 0)
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and 0 < ann["area"] <= w * h


def test_cli_writes_dense_labels_matching_the_annotations(written):
    coco = json.loads((written / "annotations.json").read_text())
    for image in coco["images"]:
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
        labels = np.load(written / "labels" / (Path(image["file_name"]).stem + ".npz"))
        assert labels["instances"].dtype == np.int32 and labels["instances"].shape == (80, 96)
        assert labels["parts"].dtype == np.uint8 and labels["depth"].dtype == np.float32
        assert labels["normals"].shape == (80, 96, 3) and labels["normals"].dtype == np.float32
        assert labels["K"].shape == (3, 3)
        assert set(np.unique(labels["instances"])) == {0} | {a["id"] for a in anns}
        for ann, xyz in zip(anns, labels["keypoints3d"]):  # same order as the annotations
            assert ann["area"] == np.count_nonzero(labels["instances"] == ann["id"])
            kps = np.array(ann["keypoints"], float).reshape(-1, 3)
            uvw = xyz.astype(float) @ labels["K"].T
            labelled = kps[:, 2] > 0
            np.testing.assert_allclose(uvw[labelled, :2] / uvw[labelled, 2:], kps[labelled, :2], atol=0.006)


def test_preview_is_a_contact_sheet(written):
    sheet = cv2.imread(str(written / "preview.png"))
    assert sheet.shape == (4 * 80, 5 * 96, 3)


def test_first_scenes_of_a_longer_run_equal_a_shorter_run(written, tmp_path):
    generate(3, tmp_path, seed=7, config=SynthConfig(width=96, height=80, people=(2, 3), keypoints="lsp14",
                                                       mocap_dir=None), image_format="png")
    for i in range(3):
        a, b = load_sample(written, i), load_sample(tmp_path, i)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    longer = json.loads((written / "annotations.json").read_text())
    shorter = json.loads((tmp_path / "annotations.json").read_text())
    assert shorter["annotations"] == [a for a in longer["annotations"] if a["image_id"] <= 3]


def test_save_npz_writes_what_np_savez_writes(tmp_path):
    arrays = {
        "image_id": np.int64(7), "labels": np.arange(12, dtype=np.int32).reshape(3, 4),
        "transposed": np.arange(6.0).reshape(2, 3).T, "empty": np.zeros((0, 17, 3), np.float32),
        "names": np.array(["pelvis", "head"]), "flags": np.array([True, False]),
    }
    save_npz(tmp_path / "a.npz", arrays)
    save_npz(tmp_path / "b.npz", arrays)
    np.savez(tmp_path / "reference.npz", **arrays)
    assert zipfile.ZipFile(tmp_path / "a.npz").testzip() is None
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as ours, np.load(tmp_path / "reference.npz") as reference:
        assert ours.files == reference.files
        for key in reference.files:
            assert ours[key].dtype == reference[key].dtype and ours[key].shape == reference[key].shape
            np.testing.assert_array_equal(ours[key], reference[key])


def test_load_sample_returns_what_render_scene_rendered(written):
    config = SynthConfig(width=96, height=80, people=(2, 3), keypoints="lsp14", mocap_dir=None)
    rendered, loaded = render_scene(7, 4, config), load_sample(written, 4)
    for key, value in rendered.items():
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_workers_write_the_same_scenes(written, tmp_path):
    config = SynthConfig(width=96, height=80, people=(2, 3), keypoints="lsp14", mocap_dir=None)
    generate(4, tmp_path, seed=7, config=config, image_format="png", workers=2)
    for i in range(4):
        np.testing.assert_array_equal(load_sample(tmp_path, i)["depth"], load_sample(written, i)["depth"])


def test_negative_workers_are_refused(tmp_path):
    with pytest.raises(ValueError, match="workers must be >= 0, got -1"):
        generate(1, tmp_path, config=SynthConfig(width=96, height=80, mocap_dir=None), workers=-1)


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "posekit.synth.cli", "--n", "2", "--out", str(tmp_path), "--seed", "1",
         "--size", "64x64", "--mocap", "none"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "labels").glob("*.npz"))) == 2


def test_cli_rejects_malformed_ranges():
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--n", "1", "--out", "x", "--people", "3"])


def test_dataset_renders_on_the_fly_in_worker_processes():
    config = SynthConfig(width=64, height=48, people=(1, 2), mocap_dir=None)
    dataset = SynthDataset(6, seed=3, config=config)
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2, collate_fn=SynthDataset.collate)
    batches = list(loader)
    assert len(batches) == 2 and batches[0]["image"].shape == (3, 3, 48, 64)
    expected = render_scene(3, 4, config)
    np.testing.assert_array_equal(batches[1]["depth"][1].numpy(), expected["depth"])
    np.testing.assert_array_equal(batches[1]["keypoints"][1].numpy(), expected["keypoints"])
    assert batches[1]["pose_source"][1] == list(expected["pose_source"])


def test_cli_reports_bad_values_with_an_exit_code(tmp_path, capsys):
    assert run_cli(["--n", "1", "--out", str(tmp_path), "--people", "0:2", "--mocap", "none"]) == 2
    assert "people" in capsys.readouterr().err
    assert run_cli(["--n", "1", "--out", str(tmp_path), "--mocap", str(tmp_path / "missing")]) == 2
