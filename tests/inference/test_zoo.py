"""The bundled zoo: every model loads from its sidecar, and the default one really finds people's joints."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.io import load_model
from tests.conftest import shared

ZOO = Path(__file__).resolve().parents[2] / "posekit" / "zoo"
SIDECARS = sorted(p for p in ZOO.glob("*.json") if p.name != "aliases.json")
SIDECAR_KEYS = {"format", "task", "model", "skeleton", "codec", "input_size", "normalisation", "training_data",
                "metric", "command", "storage_dtype"}


@pytest.mark.parametrize("sidecar", SIDECARS, ids=[p.stem for p in SIDECARS])
def test_zoo_model_loads_from_its_sidecar_and_fits_the_size_budget(sidecar):
    meta = json.loads(sidecar.read_text())
    assert SIDECAR_KEYS <= meta.keys(), f"{sidecar.name} lacks {SIDECAR_KEYS - meta.keys()}"
    assert sidecar.with_suffix(".safetensors").stat().st_size <= 10 * 2**20
    model, loaded = load_model(sidecar.stem)
    assert loaded["skeleton"] == meta["skeleton"]
    w, h = meta["input_size"]
    with torch.no_grad():
        outputs = _tensors(model(torch.rand(1, 3, h, w)))
    assert outputs and all(torch.isfinite(t).all() for t in outputs)


def _tensors(out) -> list[torch.Tensor]:
    """Every tensor in a model's (possibly nested, per-stage) output."""
    if isinstance(out, torch.Tensor):
        return [out]
    items = out.values() if isinstance(out, dict) else out
    return [t for item in items for t in _tensors(item)]


def test_zoo_aliases_point_at_bundled_models():
    aliases = json.loads((ZOO / "aliases.json").read_text())
    for alias, name in aliases.items():
        assert (ZOO / f"{name}.safetensors").exists(), f"alias {alias!r} -> missing {name!r}"


def _meta(sidecar: Path) -> dict:
    return json.loads(sidecar.read_text())


LSP_TOPDOWN = [p for p in SIDECARS if _meta(p)["task"] == "topdown" and _meta(p)["skeleton"] == "lsp14"]


@pytest.mark.parametrize("sidecar", LSP_TOPDOWN, ids=[p.stem for p in LSP_TOPDOWN])
def test_bundled_lsp_model_reproduces_its_recorded_pck(sidecar):
    """On the first 100 LSPET test people every bundled top-down LSP model scores at least 0.85x the full-split
    PCK@0.2 (flip) its sidecar records (the subset differs a little from the whole); a broken codec,
    normalisation or flip would drop it near zero."""
    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, predict_dataset
    from posekit.metrics.pck import evaluate_pck

    recorded = _meta(sidecar)["test_metrics"]["PCK@0.2_flip"]
    lsp = shared("lspet")
    gt = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:8600"), images_dir=lsp / "images")
    estimator = TopDownEstimator.load(sidecar.stem)
    dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
    results = predict_dataset(estimator.model, dataset, flip=True, mean=estimator.mean, std=estimator.std)
    assert evaluate_pck(gt, results)["PCK@0.2"] >= 0.85 * recorded


BOTTOM_UP = [p for p in SIDECARS if _meta(p)["task"] == "bottomup"]


@pytest.mark.parametrize("sidecar", BOTTOM_UP, ids=[p.stem for p in BOTTOM_UP])
def test_bundled_bottom_up_model_reproduces_its_recorded_ap(sidecar, tmp_path):
    """On the first 40 of its unseen synthetic test scenes (rendered here: scene i depends only on (seed, i)),
    every bundled bottom-up model reaches at least 0.8x the COCO AP (flip) its sidecar records on all 500."""
    from posekit.data.coco import load_coco
    from posekit.inference.bottomup import BottomUpEstimator, predict_coco
    from posekit.metrics.coco import evaluate_coco
    from posekit.synth import SynthConfig, generate

    test = _meta(sidecar)["test_metrics"]["synth_val"]
    config = SynthConfig(width=256, height=256, people=(2, 6), keypoints=_meta(sidecar)["skeleton"],
                         mocap_dir=str(shared("mocap", "bandai_namco_1")), split="test")
    gt = load_coco(generate(40, tmp_path, seed=2, config=config), images_dir=tmp_path / "images")
    estimator = BottomUpEstimator.load(sidecar.stem)
    assert evaluate_coco(gt, predict_coco(estimator, gt, flip=True))["AP"] >= 0.8 * test["coco_oks_flip"]["AP"]


def test_the_default_is_among_the_checked_lsp_models():
    default = json.loads((ZOO / "aliases.json").read_text())["default"]
    assert default in [p.stem for p in LSP_TOPDOWN]


def test_demo_finds_the_astronauts_upper_body(tmp_path):
    """``posekit demo`` writes overlays and predictions; on the astronaut photo (a frontal portrait) the head top lies
    above the neck, each shoulder below the neck less 0.3 head lengths (neck to head top) and on its own side, the
    shoulders at least half a head length apart. The bounds are LSPET's own labels' 5th percentiles on upright
    people (`python benchmarks/lsp_label_geometry.py`): its annotators put the neck above both shoulders only for
    61% of them, so "neck strictly above both shoulders" would reject the labels themselves."""
    pytest.importorskip("skimage")
    from posekit.demo import run_demo
    from posekit.skeletons import LSP14

    lines = run_demo(tmp_path)
    assert (tmp_path / "astronaut_pose.png").exists() and (tmp_path / "cameraman_pose.png").exists(), lines
    results = {r["file_name"]: r for r in json.loads((tmp_path / "predictions.json").read_text())}
    kps = np.asarray(results["astronaut.png"]["keypoints"]).reshape(-1, 3)
    head, neck, right, left = (kps[LSP14.index(n)] for n in ("head_top", "neck", "right_shoulder", "left_shoulder"))
    head_length = np.hypot(*(head[:2] - neck[:2]))
    assert head[1] < neck[1] - 0.5 * head_length
    assert min(right[1], left[1]) > neck[1] - 0.3 * head_length
    assert right[0] < neck[0] < left[0] and left[0] - right[0] > 0.5 * head_length
    assert min(head[2], neck[2], right[2], left[2]) > 0.3


def test_video_tracking_keeps_the_person_on_a_still_video(tmp_path):
    """On a still video of the astronaut, frame 0 is read as one whole-frame box, and frame 1's box is the tight box
    of frame 0's confident joints (the framing the LSP models were trained on): the joints agree to a few pixels."""
    pytest.importorskip("skimage")
    import cv2
    from skimage import data

    from posekit.predict import predict, track_box

    frame = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    clip = tmp_path / "still.avi"  # lossless (FFV1) so both frames are the same pixels
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"FFV1"), 5, frame.shape[1::-1])
    for _ in range(2):
        writer.write(frame)
    writer.release()
    summary = predict([str(clip)], "default", tmp_path / "out")
    assert summary["frames"] == 2 and summary["people"] == 2
    first, second = json.loads(Path(summary["predictions"]).read_text())
    assert first["bbox"] == [0.0, 0.0, 512.0, 512.0]
    k0 = np.asarray(first["keypoints"]).reshape(-1, 3)
    assert second["bbox"] == pytest.approx(track_box(k0[:, :2], k0[:, 2], (512, 512)), abs=0.01)
    assert second["bbox"][2] * second["bbox"][3] < 0.8 * 512 * 512
    k1 = np.asarray(second["keypoints"]).reshape(-1, 3)
    # the head, neck and shoulders score 0.5-0.8 on this out-of-LSPET portrait; the limbs 0.1-0.4
    confident = (k0[:, 2] > 0.4) & (k1[:, 2] > 0.4)
    assert confident.sum() >= 4
    assert np.median(np.hypot(*(k1[confident, :2] - k0[confident, :2]).T)) < 12
