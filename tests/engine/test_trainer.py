import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from posekit.engine.config import load_config
from posekit.engine.trainer import Trainer, autocast_dtype
from posekit.io import load_model

TINY = ["model.name=simplebaseline_resnet18", "model.params={head_channels: 32, width: 16}", "skeleton=lsp14",
        "codec.input_size=[64,64]", "codec.heatmap_size=[16,16]", "codec.sigma=2.0",
        "train.batch_size=8", "train.lr=1e-2", "train.log_every=5", "train.warmup_steps=2", "train.threads=1",
        "train.val_flip=false", "data.workers=0", "augment.rotation_prob=0.0", "augment.half_body_prob=0.0"]


def _cfg(tiny_coco, out, *extra):
    ann = str(tiny_coco)
    images = str(Path(tiny_coco).parent / "images")
    return load_config(None, TINY + [f"data.train.ann={ann}", f"data.train.images={images}",
                                     f"out_dir={out}", *extra])


def test_loss_falls_and_export_is_loadable(tiny_coco, tmp_path):
    cfg = _cfg(tiny_coco, tmp_path / "run", "train.epochs=30", "data.train.limit=8", "augment.flip_prob=0",
               f"data.val={{format: coco, ann: {tiny_coco}, images: {Path(tiny_coco).parent / 'images'}}}",
               "train.val_every=30")
    trainer = Trainer(cfg, progress=False)
    best = trainer.fit()
    losses = [r["loss"] for r in trainer.history if "loss" in r]
    assert losses[-1] < 0.85 * losses[0]
    assert best["metric"] == "PCK@0.2" and 0.0 <= best["value"] <= 1.0
    out = tmp_path / "run"
    for name in ("model.safetensors", "model.json", "metrics.csv", "curves.png", "last.pt"):
        assert (out / name).exists(), name
    model, sidecar = load_model(str(out / "model.safetensors"))
    assert sidecar["skeleton"] == "lsp14" and sidecar["codec"]["kind"] == "udp"
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 14, 16, 16)
    # a new schedule can start from exported weights
    again = Trainer(_cfg(tiny_coco, tmp_path / "again", "train.epochs=1", f"model.init={out / 'model.safetensors'}"),
                    progress=False)
    for k, v in model.state_dict().items():
        assert torch.equal(again.model.state_dict()[k].float(), v.float()), k


def test_init_grows_a_deeper_hourglass_from_shallower_weights(tiny_coco, tmp_path):
    from safetensors.torch import save_file

    from posekit.models.hourglass import StackedHourglass

    shallow = StackedHourglass(14, num_stacks=1, width=16, depth=2)
    save_file(shallow.state_dict(), tmp_path / "one_stack.safetensors")
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "run", "model.name=hourglass_stack2",
                           "model.params={width: 16, depth: 2}", f"model.init={tmp_path / 'one_stack.safetensors'}"),
                      progress=False)
    grown = trainer.model.state_dict()
    for k, v in shallow.state_dict().items():
        assert torch.equal(grown[k], v), k
        if k.startswith(("hourglasses.0.", "features.0.", "heads.0.")):
            assert torch.equal(grown[k.replace(".0.", ".1.", 1)], v), k
    assert not grown["merge_features.0.weight"].any() and not grown["merge_heatmaps.0.weight"].any()


def test_init_widens_a_narrower_hourglass_and_checks_it_against_its_sidecar(tiny_coco, tmp_path):
    from posekit.io import save_weights

    narrow = Trainer(_cfg(tiny_coco, tmp_path / "narrow", "model.name=hourglass_stack2",
                          "model.params={width: 16, depth: 2}"), progress=False)
    path = save_weights(narrow.model, tmp_path / "narrow" / "model", narrow.sidecar())
    wide = Trainer(_cfg(tiny_coco, tmp_path / "wide", "model.name=hourglass_stack2", "model.params={width: 24, depth: 2}",
                        f"model.init={path}"), progress=False)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(wide.model.eval()(x)[-1], narrow.model.eval()(x)[-1], atol=1e-5)
    assert wide.model.heads[0].weight.shape[1] == 24


def test_keep_last_exports_the_final_weights_with_their_own_score(tiny_coco, tmp_path):
    """``train.keep: last`` exports the final (EMA) weights and the final validation, whatever scored best before."""
    val = f"data.val={{format: coco, ann: {tiny_coco}, images: {Path(tiny_coco).parent / 'images'}}}"
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "run", "train.epochs=3", "data.train.limit=8", val,
                           "train.keep=last", "train.ema=0.5"), progress=False)
    trainer.fit()
    assert not (tmp_path / "run" / "best.safetensors").exists()
    model, sidecar = load_model(str(tmp_path / "run" / "model.safetensors"))
    assert sidecar["metric"]["step"] == trainer.total_steps == 3
    val_rows = [r for r in trainer.history if "val_PCK@0.2" in r]
    assert sidecar["metric"]["value"] == pytest.approx(val_rows[-1]["val_PCK@0.2"])
    final = trainer.eval_model().state_dict()
    for k, v in model.state_dict().items():
        assert torch.equal(v.float(), final[k].float()), k
    with pytest.raises(ValueError, match="train.keep must be 'best' or 'last', got 'final'"):
        Trainer(_cfg(tiny_coco, tmp_path / "bad", "train.keep=final"), progress=False)


def test_killed_and_resumed_run_follows_the_same_curve(tiny_coco, tmp_path):
    straight = Trainer(_cfg(tiny_coco, tmp_path / "a", "train.epochs=3", "train.checkpoint_every=2"), progress=False)
    straight.fit()
    interrupted = Trainer(_cfg(tiny_coco, tmp_path / "b", "train.epochs=3", "train.checkpoint_every=2"), progress=False)
    interrupted.fit(stop_after=4)  # mid-epoch (3 steps per epoch)
    resumed = Trainer(_cfg(tiny_coco, tmp_path / "b", "train.epochs=3", "train.checkpoint_every=2"), progress=False)
    resumed.fit(resume=True)
    assert resumed.step == straight.step == 9
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [r["loss"] for r in straight.history if "loss" in r] == [r["loss"] for r in resumed.history if "loss" in r]


def test_resuming_with_ema_from_a_checkpoint_without_ema_averages_the_loaded_weights(tiny_coco, tmp_path):
    """Switching EMA on at a resume starts the average from the checkpoint's weights, not from the init weights."""
    run = ("train.epochs=2", "data.train.limit=8", "train.checkpoint_every=1")
    Trainer(_cfg(tiny_coco, tmp_path / "run", *run), progress=False).fit(stop_after=1)
    trained = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert trained["ema"] is None
    resumed = Trainer(_cfg(tiny_coco, tmp_path / "run", *run, "train.ema=0.999"), progress=False, resume=True)
    resumed.load_checkpoint()
    assert resumed.step == 1
    for k, v in trained["model"].items():
        assert torch.equal(resumed.ema.state[k].to(v.dtype), v), k
    init = Trainer(_cfg(tiny_coco, tmp_path / "fresh", *run, "train.ema=0.999"), progress=False).ema.state
    assert not torch.equal(resumed.ema.state["head.final.weight"], init["head.final.weight"])


def test_mixed_precision_trains_in_the_device_type_and_keeps_fp32_weights(tiny_coco, tmp_path):
    seen = []
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "amp", "train.epochs=12", "train.amp=true", "data.train.limit=8",
                           "augment.flip_prob=0"), progress=False)
    assert trainer.amp_dtype == autocast_dtype(torch.device("cpu"))
    if trainer.amp_dtype is None:
        pytest.skip("this CPU has no native bf16: train.amp falls back to fp32")
    assert trainer.amp_dtype == torch.bfloat16 and not trainer.scaler.is_enabled()
    trainer.model.head.final.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    trainer.fit()
    losses = [r["loss"] for r in trainer.history if "loss" in r]
    assert set(seen) == {torch.bfloat16} and losses[-1] < 0.85 * losses[0]
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_resume_does_not_need_the_start_weights(tiny_coco, tmp_path):
    start = Trainer(_cfg(tiny_coco, tmp_path / "start", "train.epochs=1", "data.train.limit=8"), progress=False)
    start.fit()
    init = tmp_path / "start" / "model.safetensors"
    extra = ("train.epochs=2", "data.train.limit=8", f"model.init={init}")
    Trainer(_cfg(tiny_coco, tmp_path / "run", *extra), progress=False).fit(stop_after=1)
    trained = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    init.unlink()  # another machine: the checkpoint is there, the start weights are not
    resumed = Trainer(_cfg(tiny_coco, tmp_path / "run", *extra), progress=False, resume=True)
    resumed.load_checkpoint()
    assert resumed.step == 1
    for k, v in trained.items():
        assert torch.equal(resumed.model.state_dict()[k], v), k
    resumed.fit(resume=True)
    assert resumed.step == 2


def test_resume_records_the_real_start_weights_and_reports_changed_settings(tiny_coco, tmp_path, capsys):
    start = Trainer(_cfg(tiny_coco, tmp_path / "start", "train.epochs=1", "data.train.limit=8"), progress=False)
    start.fit()
    init = str(tmp_path / "start" / "model.safetensors")
    run = ("train.epochs=2", "data.train.limit=8")
    Trainer(_cfg(tiny_coco, tmp_path / "run", *run, f"model.init={init}"), progress=False).fit(stop_after=1)
    capsys.readouterr()
    # resumed without the model.init override it started with, and with another learning rate
    resumed = Trainer(_cfg(tiny_coco, tmp_path / "run", *run, "train.lr=3e-3"), progress=False, resume=True)
    resumed.fit(resume=True)
    out = capsys.readouterr().out
    assert "differ from the checkpoint's: train.lr: 0.01 -> 0.003" in out and "model.init" not in out
    _, sidecar = load_model(str(tmp_path / "run" / "model.safetensors"))
    assert sidecar["config"]["model"]["init"] == init


def test_resume_without_checkpoint_is_a_clear_error(tiny_coco, tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        Trainer(_cfg(tiny_coco, tmp_path / "c", "train.epochs=1"), progress=False).fit(resume=True)


def test_ddp_two_cpu_processes_end_with_identical_weights_and_falling_loss(tiny_coco, tmp_path):
    out = tmp_path / "ddp"
    args = [f"{a}" for a in TINY] + [f"data.train.ann={tiny_coco}", f"data.train.images={Path(tiny_coco).parent / 'images'}",
                                     f"out_dir={out}", "train.epochs=8", "train.batch_size=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_worker.py")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
                           str(worker), *args], env=env, capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr[-3000:]
    from safetensors.torch import load_file

    r0, r1 = load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors")
    for k in r0:
        if "running" in k or "num_batches" in k:
            continue  # BatchNorm statistics are per rank under plain DDP
        assert torch.equal(r0[k], r1[k]), k
    history = json.loads((out / "history.json").read_text())
    losses = [r["loss"] for r in history if "loss" in r]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("model,params,codec,loss", [
    ("cpm_small", "{}", "belief", "cpm"),
    ("cpn_resnet18", "{width: 8, channels: 16}", "udp", "cpn"),
    ("hourglass_stack2", "{width: 16, depth: 1}", "udp", "mse"),
])
def test_multi_stage_recipes_train_and_evaluate_with_flip(tiny_coco, tmp_path, model, params, codec, loss):
    images = Path(tiny_coco).parent / "images"
    cfg = _cfg(tiny_coco, tmp_path / model, "train.epochs=1", f"model.name={model}", f"model.params={params}",
               f"codec.kind={codec}", f"train.loss={loss}", "train.lr=1e-3", "train.val_flip=true",
               f"data.val={{format: coco, ann: {tiny_coco}, images: {images}, limit: 8}}")
    trainer = Trainer(cfg, progress=False)
    best = trainer.fit()
    assert 0.0 <= best["value"] <= 1.0 and best["metrics"]["val_num_people"] == 8


def test_bottom_up_recipe_trains_validates_with_ap_and_exports_a_predictable_model(tmp_path):
    from posekit.predict import evaluate_model, predict
    from posekit.synth import SynthConfig, generate

    scenes = tmp_path / "synth"
    generate(6, scenes, seed=2, config=SynthConfig(width=96, height=96, people=(1, 2), mocap_dir=None))
    ann, images = scenes / "annotations.json", scenes / "images"
    cfg = load_config(None, [
        "skeleton=coco17", "model.name=openpose_small", "model.params={trunk_width: 8, feature_channels: 16}",
        "codec.kind=paf", "codec.input_size=[96,96]", "codec.heatmap_size=[12,12]", "codec.sigma=1.0",
        "codec.limb_width=1.0", f"data.train={{format: coco, ann: {ann}, images: {images}}}",
        f"data.val={{format: coco, ann: {ann}, images: {images}, limit: 3}}", "data.workers=0",
        "train.loss=openpose", "train.metric=coco", "train.epochs=4", "train.batch_size=2", "train.lr=1e-3",
        "train.warmup_steps=2", "train.threads=1", "train.log_every=3", "train.val_every=4", f"out_dir={tmp_path / 'run'}"])
    trainer = Trainer(cfg, progress=False)
    best = trainer.fit()
    losses = [r["loss"] for r in trainer.history if "loss" in r]
    assert losses[-1] < losses[0]
    assert best["metric"] == "AP" and 0.0 <= best["value"] <= 1.0
    summary = predict([str(images)], str(tmp_path / "run" / "model.safetensors"), tmp_path / "pred")
    assert len(summary["overlays"]) == 6
    metrics, _ = evaluate_model(str(tmp_path / "run" / "model.safetensors"), ann, images, flip=True, metric="coco",
                                limit=3)
    assert metrics["AP"] == pytest.approx(best["value"])  # `posekit eval --model` scores as validation did


def test_extra_sources_join_the_training_people_with_their_own_boxes_and_filters(tiny_coco, tmp_path):
    from posekit.data.coco import load_coco
    from tests.conftest import write_tiny_coco

    other = write_tiny_coco(tmp_path / "other", n_images=10, seed=1)
    data = json.loads(other.read_text())
    data["annotations"][0]["bbox"] = [0.0, 0.0, 64.0, 64.0]  # a loose box that 'keypoints' must replace
    for k in range(6):  # one person with only 8 labelled keypoints: below min_keypoints
        data["annotations"][1]["keypoints"][3 * k: 3 * k + 3] = [0, 0, 0]
    data["annotations"][1]["num_keypoints"] = 8
    other.write_text(json.dumps(data))
    extra = f"data.extra=[{{format: coco, ann: {other}, images: {other.parent / 'images'}, boxes: keypoints, " \
            "min_keypoints: 10}]"
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "run", "train.epochs=1", extra), progress=False)
    people = trainer.train_set.people
    assert len(people) == 24 + 9  # all of the first source, the second's without the 8-keypoint person
    assert len({p.id for p in people}) == len(people) and len({p.image_id for p in people}) == len(people)
    first_extra = people[24]
    image = trainer.train_set.coco.images[first_extra.image_id]
    assert image.path == other.parent / "images" / "001.png"
    kps = load_coco(other).people[0].keypoints
    assert first_extra.bbox.tolist() == pytest.approx([*kps[:, :2].min(0), *(kps[:, :2].max(0) - kps[:, :2].min(0))])
    assert trainer.train_set[24]["heatmaps"].shape == (14, 16, 16)
    assert trainer.sidecar()["training_data"]["extra"][0]["ann"] == str(other)
    with pytest.raises(ValueError, match="boxes must be 'annotation' or 'keypoints', got 'tight'"):
        Trainer(_cfg(tiny_coco, tmp_path / "bad", extra.replace("boxes: keypoints", "boxes: tight")), progress=False)
