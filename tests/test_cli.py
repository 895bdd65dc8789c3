"""The command-line contracts: options, output files and JSON keys."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.cli import main
from posekit.codecs.heatmap import UDPHeatmap, codec_to_dict
from posekit.io import save_weights
from posekit.models import build_model


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    """An untrained lsp14 SimpleBaseline saved like a trained one (safetensors + sidecar)."""
    model = build_model("simplebaseline_resnet18", 14, head_channels=16, width=8)
    sidecar = {"format": "posekit-weights/1", "task": "topdown", "num_keypoints": 14, "skeleton": "lsp14",
               "model": {"name": "simplebaseline_resnet18", "params": {"head_channels": 16, "width": 8}},
               "codec": codec_to_dict(UDPHeatmap((64, 64), (16, 16), 1.0)), "input_size": [64, 64], "padding": 1.25}
    return save_weights(model, tmp_path / "tiny", sidecar)


def _gt_as_predictions(ann: Path, out: Path):
    data = json.loads(ann.read_text())
    out.write_text(json.dumps([{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
                               for a in data["annotations"]]))


def test_eval_pck_writes_the_documented_keys(tiny_coco, tmp_path, capsys):
    pred, out = tmp_path / "pred.json", tmp_path / "metrics.json"
    _gt_as_predictions(tiny_coco, pred)
    assert main(["eval", "--gt", str(tiny_coco), "--pred", str(pred), "--metric", "pck", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert {"PCK@0.2", "PCK@0.2_bbox", "AUC", "EPE"} <= set(metrics)
    assert metrics["PCK@0.2"] == 1.0 and metrics["EPE"] < 1e-4
    assert "PCK@0.2" in capsys.readouterr().out


def test_eval_coco_writes_the_documented_keys(tiny_coco, tmp_path):
    pred, out = tmp_path / "pred.json", tmp_path / "metrics.json"
    _gt_as_predictions(tiny_coco, pred)
    assert main(["eval", "--gt", str(tiny_coco), "--pred", str(pred), "--metric", "coco", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {"AP", "AP50", "AP75", "APm", "APl", "AR"} and metrics["AP"] == pytest.approx(1.0)


def test_eval_with_a_model_runs_on_ground_truth_boxes(tiny_coco, tiny_model, tmp_path):
    out = tmp_path / "m.json"
    assert main(["eval", "--model", str(tiny_model), "--gt", str(tiny_coco), "--images",
                 str(tiny_coco.parent / "images"), "--flip", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics["PCK@0.2"] <= 1.0 and metrics["num_people"] == 24


def test_eval_multi_scale_test_scores_every_person_and_refuses_bad_scales(tiny_coco, tiny_model, tmp_path, capsys):
    out = tmp_path / "m.json"
    args = ["eval", "--model", str(tiny_model), "--gt", str(tiny_coco), "--images", str(tiny_coco.parent / "images")]
    assert main([*args, "--flip", "--scales", "1,0.9,1.15", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics["PCK@0.2"] <= 1.0 and metrics["num_people"] == 24
    for bad in ("1,0", "1,x", "-1"):
        with pytest.raises(SystemExit):
            main([*args, "--scales", bad])
        assert "--scales" in capsys.readouterr().err


def test_predict_writes_predictions_and_overlays(tiny_coco, tiny_model, tmp_path):
    images = tiny_coco.parent / "images"
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"file_name": "001.png", "bbox": [5, 5, 40, 50], "score": 0.9},
                                 {"file_name": "001.png", "bbox": [10, 10, 30, 30], "score": 0.8}]))
    out = tmp_path / "out"
    assert main(["predict", str(images / "001.png"), str(images / "002.png"), "--model", str(tiny_model),
                 "--boxes", str(boxes), "--out", str(out)]) == 0
    preds = json.loads((out / "predictions.json").read_text())
    assert [p["file_name"] for p in preds] == ["001.png", "001.png"]  # 002.png has no box
    assert all(len(p["keypoints"]) == 42 for p in preds)
    assert cv2.imread(str(out / "001_pose.png")) is not None and (out / "002_pose.png").exists()
    # without boxes: the whole image is one person
    assert main(["predict", str(images), "--model", str(tiny_model), "--out", str(tmp_path / "all")]) == 0
    preds = json.loads((tmp_path / "all" / "predictions.json").read_text())
    assert len(preds) == 24 and preds[0]["bbox"] == [0.0, 0.0, 64.0, 64.0]


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def _video_frame_count(path: Path) -> int:
    capture, count = cv2.VideoCapture(str(path)), 0
    while capture.read()[0]:
        count += 1
    return count


def test_predict_on_a_video_writes_one_result_per_frame_and_an_overlay_video(tiny_coco, tiny_model, tmp_path):
    images = sorted((tiny_coco.parent / "images").glob("*.png"))[:3]
    clip = _write_video(tmp_path / "clip.mp4", [cv2.imread(str(p)) for p in images])
    out = tmp_path / "out"
    assert main(["predict", str(clip), str(images[0]), "--model", str(tiny_model), "--out", str(out)]) == 0
    preds = json.loads((out / "predictions.json").read_text())
    assert [(p["file_name"], p.get("frame"), p["image_id"]) for p in preds] == [
        ("clip.mp4", 0, 1), ("clip.mp4", 1, 2), ("clip.mp4", 2, 3), ("001.png", None, 4)]
    assert preds[0]["bbox"] == [0.0, 0.0, 64.0, 64.0] and all(len(p["keypoints"]) == 42 for p in preds)
    assert _video_frame_count(out / "clip_pose.mp4") == 3 and (out / "001_pose.png").exists()
    # boxes: one for frame 1 only, one without a frame (every frame), none match the image
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"file_name": "clip.mp4", "frame": 1, "bbox": [5, 5, 40, 50]},
                                 {"file_name": "clip.mp4", "bbox": [10, 10, 30, 30]}]))
    assert main(["predict", str(clip), str(images[0]), "--model", str(tiny_model), "--boxes", str(boxes),
                 "--out", str(out)]) == 0
    preds = json.loads((out / "predictions.json").read_text())
    assert [(p["frame"], p["bbox"]) for p in preds] == [
        (0, [10, 10, 30, 30]), (1, [5, 5, 40, 50]), (1, [10, 10, 30, 30]), (2, [10, 10, 30, 30])]
    assert main(["predict", str(clip), "--model", str(tiny_model), "--boxes", str(boxes), "--smooth",
                 "--out", str(out)]) == 2


def test_predict_smooth_filters_the_tracked_keypoints_from_the_second_frame_on(tiny_coco, tiny_model, tmp_path):
    from posekit.predict import track_smoother

    images = sorted((tiny_coco.parent / "images").glob("*.png"))[:4]
    clip = _write_video(tmp_path / "clip.mp4", [cv2.imread(str(p)) for p in images])
    runs = {}
    for name, extra in (("raw", []), ("smooth", ["--smooth"])):
        assert main(["predict", str(clip), "--model", str(tiny_model), "--out", str(tmp_path / name), *extra]) == 0
        preds = json.loads((tmp_path / name / "predictions.json").read_text())
        runs[name] = np.array([p["keypoints"] for p in preds]).reshape(4, -1, 3)
    raw, smooth = runs["raw"], runs["smooth"]
    assert np.array_equal(raw[:, :, 2], smooth[:, :, 2])  # scores untouched
    # the same filter run by hand on the raw tracks (the boxes come from the raw keypoints, so frames match)
    f = track_smoother(64.0)  # the first frame's box: the whole 64x64 frame (an untrained model finds no joints)
    expected = np.stack([f.filter(k, 1 / 10) for k in raw[:, :, :2]])
    assert np.allclose(smooth[:, :, :2], expected, atol=2e-3)
    assert np.array_equal(smooth[0], raw[0]) and not np.allclose(smooth[1:, :, :2], raw[1:, :, :2])


def test_predict_refuses_an_unreadable_video_and_a_bad_frame_index(tiny_model, tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    assert main(["predict", str(bad), "--model", str(tiny_model), "--out", str(tmp_path / "o")]) == 2
    assert "broken.mp4: cannot read video" in capsys.readouterr().err
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"file_name": "clip.mp4", "frame": -1, "bbox": [5, 5, 40, 50]}]))
    clip = _write_video(tmp_path / "clip.mp4", [np.zeros((32, 32, 3), np.uint8)])
    assert main(["predict", str(clip), "--model", str(tiny_model), "--boxes", str(boxes),
                 "--out", str(tmp_path / "o")]) == 2
    assert "detection #0: frame must be a frame index >= 0, got -1" in capsys.readouterr().err


def test_track_box_is_the_tight_box_of_the_confident_joints_clipped_to_the_image():
    from posekit.predict import track_box

    keypoints = np.array([[10.0, 20.0], [50.0, 80.0], [30.0, 40.0], [70.0, -5.0], [5.0, 5.0]])
    scores = np.array([0.9, 0.8, 0.5, 0.6, 0.1])  # the last joint is not confident
    assert track_box(keypoints, scores, (100, 60)) == [10.0, 0.0, 49.0, 80.0]  # x clipped to 59, y to 0
    assert track_box(keypoints, scores, (100, 60), min_joints=5) is None


@pytest.mark.parametrize("argv,message", [
    (["eval", "--gt", "missing.json", "--pred", "p.json"], "missing.json: cannot read"),
    (["predict", "nowhere.jpg", "--model", "default", "--out", "o"], None),
    (["train", "no_such_recipe.yaml"], "no_such_recipe.yaml: config file missing"),
])
def test_bad_input_gives_one_clear_error_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"posekit {argv[0]}: error:") and "Traceback" not in err
    if message:
        assert message in err


def test_unknown_model_name_lists_the_zoo(tiny_coco, tmp_path, capsys):
    assert main(["predict", str(tiny_coco.parent / "images"), "--model", "no-such-model", "--out", str(tmp_path)]) == 2
    assert "not in the zoo" in capsys.readouterr().err


def test_broken_boxes_file_is_reported(tiny_coco, tiny_model, tmp_path, capsys):
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps([{"file_name": "001.png", "bbox": [5, 5, 0, 50]}]))
    assert main(["predict", str(tiny_coco.parent / "images"), "--model", str(tiny_model), "--boxes", str(boxes),
                 "--out", str(tmp_path / "o")]) == 2
    assert "detection #0: bbox must be [x, y, w, h] with w, h > 0" in capsys.readouterr().err


def test_predict_runs_a_bottom_up_model_without_boxes(tiny_coco, tmp_path, capsys):
    from posekit.codecs.paf import PAFCodec
    from dataclasses import asdict

    codec = PAFCodec(input_size=(64, 64), heatmap_size=(8, 8), skeleton="lsp14")
    model = build_model("openpose_small", 14, num_limbs=len(codec.limbs))
    sidecar = {"format": "posekit-weights/1", "task": "bottomup", "num_keypoints": 14, "skeleton": "lsp14",
               "model": {"name": "openpose_small", "params": {"num_limbs": len(codec.limbs)}},
               "codec": {"kind": "paf", **asdict(codec)}, "input_size": [64, 64]}
    path = save_weights(model, tmp_path / "bu", sidecar)
    out = tmp_path / "out"
    assert main(["predict", str(tiny_coco.parent / "images" / "001.png"), "--model", str(path), "--out", str(out)]) == 0
    preds = json.loads((out / "predictions.json").read_text())
    assert all(len(p["keypoints"]) == 42 and p["file_name"] == "001.png" for p in preds)
    assert (out / "001_pose.png").exists()
    boxes = tmp_path / "boxes.json"
    boxes.write_text("[]")
    assert main(["predict", str(tiny_coco.parent / "images"), "--model", str(path), "--boxes", str(boxes),
                 "--out", str(out)]) == 2
    assert "takes no --boxes" in capsys.readouterr().err
    (out / "001_pose.png").unlink()
    assert main(["predict", str(tiny_coco.parent / "images" / "001.png"), "--model", str(path), "--scales", "1,1.5",
                 "--flip", "--out", str(out)]) == 0  # the multi-scale test
    assert (out / "001_pose.png").exists()
    scores = tmp_path / "metrics.json"
    assert main(["eval", "--model", str(path), "--gt", str(tiny_coco), "--images", str(tiny_coco.parent / "images"),
                 "--metric", "coco", "--out", str(scores)]) == 0
    assert 0.0 <= json.loads(scores.read_text())["AP"] <= 1.0
    assert main(["eval", "--model", str(path), "--gt", str(tiny_coco), "--images", str(tiny_coco.parent / "images"),
                 "--metric", "coco", "--flip"]) == 0
