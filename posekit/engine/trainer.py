"""The training loop: plain PyTorch, one process or many (torchrun + DDP).

- AdamW with linear warm-up then cosine (or step) decay, optional ViT layer-wise lr decay;
- gradient clipping, optional EMA weights, mixed precision (``train.amp``): fp16 autocast
  with a gradient scaler on CUDA, bf16 autocast on a CPU with native bf16 (AVX512-BF16 or AMX);
- checkpoints every N steps written atomically, and exact resume: the sampler
  order and the augmentation randomness are functions of (seed, epoch, index),
  and optimizer, scheduler, scaler, EMA and RNG states are saved, so a killed
  run resumed with ``--resume`` follows the same curve;
- validation with the real metric (PCK or COCO AP) on a held-out split;
- metrics.csv / history.json and a loss/metric plot (PNG), a progress bar with ETA;
- at the end, ``model.safetensors`` + ``model.json``: the best validation weights, or with
  ``train.keep: last`` the final ones (for recipes whose validation split is also their
  test split, where picking the best checkpoint would be selecting on the test set).
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from ..codecs.heatmap import build_codec, codec_to_dict
from ..data.coco import load_coco
from ..data.lsp import convert_lsp
from ..data.bottomup import BottomUpDataset
from ..data.topdown import IMAGENET_MEAN, IMAGENET_STD, TopDownDataset, normalize
from ..io import atomic_torch_save, load_model, read_state_dict, save_weights
from ..losses import cpm_loss, cpn_loss, keypoint_mse, keypoint_mse_lr_latent, openpose_loss
from ..models import build_model
from ..models.widen import widen_state_dict
from .config import Config, DataSource, config_to_dict
from .distill import TeacherMaps


# ----------------------------------------------------------------------------- data
def load_source(src: DataSource, skeleton: str):
    """A DataSource -> validated CocoKeypoints (LSP is converted in memory)."""
    if src.format == "lsp":
        if not src.joints or not src.images:
            raise ValueError("an 'lsp' data source needs 'joints' and 'images'")
        coco = load_coco(convert_lsp(src.joints, src.images, None, src.range), images_dir=src.images)
    elif src.format == "coco":
        if not src.ann:
            raise ValueError("a 'coco' data source needs 'ann' (and usually 'images')")
        coco = load_coco(src.ann, images_dir=src.images)
    else:
        raise ValueError(f"data source format must be 'coco' or 'lsp', got {src.format!r}")
    if coco.skeleton.name != skeleton:
        raise ValueError(f"{src.ann or src.joints}: skeleton {coco.skeleton.name} but the recipe says {skeleton}")
    return coco


def with_boxes(coco, src: DataSource):
    """``src.boxes`` applied: the file's boxes, or tight keypoint boxes (as LSP's converter writes)."""
    if src.boxes == "keypoints":
        return coco.with_keypoint_boxes()
    if src.boxes != "annotation":
        raise ValueError(f"{src.ann or src.joints}: data source boxes must be 'annotation' or 'keypoints', "
                         f"got {src.boxes!r}")
    return coco


def load_topdown_training(sources: list[DataSource], skeleton: str):
    """Top-down training sources joined into one dataset whose ``people`` are the ones to train on: per source,
    not crowd, at least ``min_keypoints`` labelled keypoints, the first ``limit`` of them."""
    joined = None
    for src in sources:
        coco = with_boxes(load_source(src, skeleton), src)
        people = [p for p in coco.trainable_people() if p.num_keypoints >= src.min_keypoints][: src.limit]
        if not people:
            raise ValueError(f"{src.ann or src.joints}: no person with >= {src.min_keypoints} labelled keypoints")
        coco = dataclasses.replace(coco, people=people)
        joined = coco if joined is None else joined.concat(coco)
    return joined


class ResumableSampler(Sampler):
    """Shuffled indices as a function of (seed, epoch), sharded across ranks, optionally
    skipping the first ``start`` batches' worth of this rank's indices (mid-epoch resume)."""

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0):
        self.epoch, self.start = epoch, start

    def indices(self) -> list[int]:
        order = np.random.default_rng((self.seed, self.epoch)).permutation(self.size)
        per_rank = self.size // self.world
        return order[self.rank * per_rank:(self.rank + 1) * per_rank].tolist()

    def __iter__(self):
        return iter(self.indices()[self.start:])

    def __len__(self):
        return self.size // self.world - self.start


# ----------------------------------------------------------------------------- schedule, EMA
def lr_factor(step: int, total: int, steps_per_epoch: int, cfg) -> float:
    """Multiplier of the base lr at ``step``: linear warm-up, then cosine to min_lr_ratio (or step decay x0.1)."""
    if step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "cosine":
        t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    if cfg.schedule == "step":
        epoch = step // steps_per_epoch
        return 0.1 ** sum(epoch >= m for m in cfg.milestones)
    raise ValueError(f"train.schedule must be 'cosine' or 'step', got {cfg.schedule!r}")


class EMA:
    """Exponential moving average of a model's weights (buffers copied)."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module):
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(self.decay).add_(v.detach(), alpha=1 - self.decay)
            else:
                self.state[k].copy_(v)


def param_groups(model: torch.nn.Module, cfg) -> list[dict]:
    """AdamW groups: no weight decay on norms, biases and position embeddings; ViT layer decay if set."""
    if cfg.layer_decay:
        from ..models.backbones.vit import layer_decay_param_groups

        return layer_decay_param_groups(model, cfg.lr, cfg.weight_decay, cfg.layer_decay)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 or "pos_embed" in name else decay).append(p)
    return [{"params": decay, "weight_decay": cfg.weight_decay, "lr_scale": 1.0},
            {"params": no_decay, "weight_decay": 0.0, "lr_scale": 1.0}]


# ----------------------------------------------------------------------------- trainer
def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision type for ``device``: fp16 on CUDA; bf16 on a CPU that computes it natively
    (AVX512-BF16 or AMX, where oneDNN runs bf16 convolutions about twice as fast as fp32); else None
    (fp32; emulated bf16 would be slower than fp32)."""
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return None


class Trainer:
    """Builds everything from a :class:`Config` and runs it: ``Trainer(cfg).fit()``, or
    ``Trainer(cfg, resume=True).fit(resume=True)`` to continue from the run's checkpoint.

    ``resume`` in the constructor skips ``model.init``: the checkpoint replaces those weights anyway, so a run
    can be continued on a machine that does not have its start weights.
    """

    def __init__(self, cfg: Config, command: str | None = None, progress: bool = True, resume: bool = False):
        self.cfg = cfg
        self.command = command or " ".join(sys.argv)
        self.progress = progress
        self.distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.rank = dist.get_rank() if self.distributed else 0
        self.world = dist.get_world_size() if self.distributed else 1
        self.device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu")
        if cfg.train.threads:
            torch.set_num_threads(cfg.train.threads)
        self.out = Path(cfg.out_dir)
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)

        t = cfg.train
        _seed_everything(t.seed)
        self.bottom_up = cfg.codec.kind == "paf"
        codec_params = {k: v for k, v in asdict(cfg.codec).items() if v is not None}
        self.codec = build_codec(**codec_params, **({"skeleton": cfg.skeleton} if self.bottom_up else {}))
        if self.bottom_up:  # whole images; `limit` counts images
            if cfg.data.extra:
                raise ValueError(f"{cfg.source}: data.extra joins person crops; it is for top-down recipes only")
            train_coco = load_source(cfg.data.train, cfg.skeleton).first_images(cfg.data.train.limit)
            self.train_set = BottomUpDataset(train_coco, self.codec, cfg.augment, seed=t.seed)
        else:  # person crops; `limit` counts people
            train_coco = load_topdown_training([cfg.data.train, *cfg.data.extra], cfg.skeleton)
            self.train_set = TopDownDataset(train_coco, self.codec, cfg.augment, cfg.data.padding, seed=t.seed)
        self.skeleton = train_coco.skeleton
        self.val_set = None
        if cfg.data.val is not None:
            val_coco = with_boxes(load_source(cfg.data.val, cfg.skeleton), cfg.data.val)
            if self.bottom_up:
                self.val_set = BottomUpDataset(val_coco.first_images(cfg.data.val.limit), self.codec)
            else:
                if cfg.data.val.limit is not None:  # score only the people we predict
                    val_coco = dataclasses.replace(val_coco, people=val_coco.trainable_people()[: cfg.data.val.limit])
                self.val_set = TopDownDataset(val_coco, self.codec, None, cfg.data.padding)
        self.sampler = ResumableSampler(len(self.train_set), t.seed, self.rank, self.world)
        self.steps_per_epoch = len(self.sampler) // t.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(f"{len(self.train_set)} training samples < batch size {t.batch_size} x {self.world} ranks")
        self.total_steps = self.steps_per_epoch * t.epochs

        # the model's arguments as the sidecar records them (bottom-up models also need their limb count)
        self.model_params = {**cfg.model.params, **({"num_limbs": len(self.codec.limbs)} if self.bottom_up else {})}
        self.model = build_model(cfg.model.name, num_keypoints=self.skeleton.num_keypoints,
                                 **self.model_params).to(self.device)
        if cfg.model.pretrained:
            self._load_pretrained(cfg.model.pretrained)
        if cfg.model.init and not resume:
            self._load_init(cfg.model.init)
        if t.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net = self.model
        if self.distributed:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = torch.optim.AdamW(param_groups(self.model, t), lr=t.lr)
        self.amp_dtype = autocast_dtype(self.device) if t.amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if t.amp:
            self._log(f"train.amp: {self.amp_dtype} autocast on {self.device.type}" if self.amp_dtype
                      else f"train.amp: {self.device.type} has no native bf16; training in fp32")
        self.ema = EMA(self.model, t.ema) if t.ema else None
        if t.teacher:
            self._attach_teacher()
        if t.keep not in ("best", "last"):
            raise ValueError(f"train.keep must be 'best' or 'last', got {t.keep!r}")
        self.step = 0
        self.best = {"value": -1.0, "step": -1, "metrics": {}}
        self.latest = dict(self.best)  # the most recent validation record
        self.history: list[dict] = []
        self.window = [0.0, 0]  # loss sum and step count since the last logged row

    def _load_init(self, path: str):
        """Whole-model start weights; from a shallower network they are grown (``grow_state_dict``), from a
        narrower one widened (:func:`~posekit.models.widen.widen_state_dict`), both keeping its function (a grown
        CPM only nearly: its new stages repeat the last one)."""
        state = {k: v.float() if v.is_floating_point() else v for k, v in read_state_dict(path).items()}
        if hasattr(self.model, "grow_state_dict"):  # e.g. a deeper Stacked Hourglass from a shallower one
            state = self.model.grow_state_dict(state)
        if any(v.shape != state[k].shape for k, v in self.model.state_dict().items() if k in state):
            check = None
            if Path(path).with_suffix(".json").exists():  # the narrow network, to verify the widened one against
                w, h = self.codec.input_size
                check = (load_model(path)[0], torch.randn(1, 3, h, w, generator=torch.Generator().manual_seed(0)))
            state = widen_state_dict(self.model, state, seed=self.cfg.train.seed, check=check)
            self._log(f"model.init: {path} widened to {self.cfg.model.name} {self.model_params}")
        self.model.load_state_dict(state)

    def _attach_teacher(self):
        """Distillation: the teacher's maps of every training person (computed once on rank 0, cached in
        ``out_dir/teacher``), blended into the training targets."""
        t = self.cfg.train
        if self.bottom_up:
            raise ValueError("train.teacher: distillation is for top-down heatmap models, not bottom-up ones")
        args = dict(teacher=t.teacher, dataset=self.train_set, weight=t.teacher_weight, flip=t.teacher_flip,
                    scales=t.teacher_scales, amp_dtype=self.amp_dtype, device=self.device,
                    workers=self.cfg.data.workers, cache=self.out / "teacher")
        if self.rank == 0:
            start = time.time()
            self.train_set.teacher = TeacherMaps.compute(**args)
            self._log(f"train.teacher: {t.teacher} (weight {t.teacher_weight}, flip {t.teacher_flip}, scales "
                      f"{t.teacher_scales}), maps of "
                      f"{len(self.train_set.teacher)} people in {time.time() - start:.0f} s")
        if self.distributed:
            dist.barrier()
            if self.rank != 0:  # read rank 0's cache
                self.train_set.teacher = TeacherMaps.compute(**args)

    def _load_pretrained(self, path: str):
        target = getattr(self.model, "backbone", self.model)
        if self.cfg.model.name.startswith("vitpose"):
            from ..models.backbones.vit import load_encoder_weights

            load_encoder_weights(target, path)
        else:
            from ..models.backbones.resnet import load_backbone_weights

            load_backbone_weights(target, path)

    # -- checkpointing
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "last.pt"

    def save_checkpoint(self):
        if self.rank != 0:
            return
        atomic_torch_save({
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": self.ema.state if self.ema else None,
            "step": self.step,
            "best": self.best,
            "latest": self.latest,
            "history": self.history,
            "window": self.window,
            "rng": _rng_state(),
            "config": config_to_dict(self.cfg),
        }, self.checkpoint_path)

    def load_checkpoint(self):
        ckpt = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema:  # a checkpoint of a run without EMA: start the average from its weights, not from init
            self.ema = EMA(self.model, self.ema.decay) if ckpt["ema"] is None else self.ema
            if ckpt["ema"] is not None:
                self.ema.state = ckpt["ema"]
        self.step, self.best, self.history = ckpt["step"], ckpt["best"], ckpt["history"]
        self.window = ckpt.get("window", [0.0, 0])  # absent in checkpoints of early versions
        self.latest = ckpt.get("latest", self.best)
        _set_rng_state(ckpt["rng"])
        saved = ckpt.get("config")
        if saved:  # the run's record keeps the start weights it really had (model.init is skipped on resume)
            self.cfg.model.init = saved["model"]["init"]
            changed = _changed_settings(saved, config_to_dict(self.cfg))
            if changed:
                self._log(f"resumed with settings that differ from the checkpoint's: {'; '.join(changed)}")

    # -- the loop
    def fit(self, resume: bool = False, stop_after: int | None = None) -> dict:
        """Train to the end of the schedule (or, to simulate an interruption, checkpoint and
        return once ``stop_after`` steps are done). Returns the best validation record."""
        t = self.cfg.train
        if resume:
            if not self.checkpoint_path.exists():
                raise FileNotFoundError(f"--resume: no checkpoint at {self.checkpoint_path}")
            self.load_checkpoint()
            self._log(f"resumed from {self.checkpoint_path} at step {self.step}/{self.total_steps}")
        bar = None
        if self.progress and self.rank == 0:
            from tqdm import tqdm

            bar = tqdm(total=self.total_steps, initial=self.step, desc=self.cfg.name, dynamic_ncols=True)
        started, steps_here = time.time(), 0
        while self.step < self.total_steps:
            epoch, start = divmod(self.step, self.steps_per_epoch)
            self.sampler.set_epoch(epoch, start * t.batch_size)
            self.train_set.set_epoch(epoch)
            loader = DataLoader(self.train_set, batch_size=t.batch_size, sampler=self.sampler, drop_last=True,
                                num_workers=self.cfg.data.workers, persistent_workers=False,
                                pin_memory=self.device.type == "cuda")
            self.model.train()
            for batch in loader:
                loss = self.train_step(batch)
                self.window[0] += loss
                self.window[1] += 1
                self.step += 1
                steps_here += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.2e}", lr=f"{self.optimizer.param_groups[0]['lr']:.1e}")
                if self.step % t.log_every == 0 or self.step == self.total_steps:
                    total, count = self.window
                    self._record({"step": self.step, "epoch": self.step / self.steps_per_epoch,
                                  "loss": total / count, "lr": self.optimizer.param_groups[0]["lr"],
                                  "samples_per_s": steps_here * t.batch_size * self.world / (time.time() - started)})
                    self.window, started, steps_here = [0.0, 0], time.time(), 0
                end_of_epoch = self.step % self.steps_per_epoch == 0
                if end_of_epoch and self.val_set is not None and (
                        (self.step // self.steps_per_epoch) % t.val_every == 0 or self.step == self.total_steps):
                    self.validate()
                if self.step % t.checkpoint_every == 0 or end_of_epoch:
                    self.save_checkpoint()
                if stop_after is not None and self.step >= stop_after:
                    self.save_checkpoint()
                    return self.best
                if self.step >= self.total_steps:
                    break
        if bar is not None:
            bar.close()
        self.save_checkpoint()
        if self.rank == 0:
            self.export()
        return self.best

    def train_step(self, batch: dict) -> float:
        t = self.cfg.train
        for g in self.optimizer.param_groups:
            g["lr"] = t.lr * g.get("lr_scale", 1.0) * lr_factor(self.step, self.total_steps, self.steps_per_epoch, t)
        images = normalize(batch["image"].to(self.device, non_blocking=True))
        if t.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        targets = {k: batch[k].to(self.device) for k in ("heatmaps", "weights", "pafs", "mask") if k in batch}
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            outputs = self.net(images)
        loss = self.compute_loss(outputs, targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if t.clip_grad:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema:
            self.ema.update(self.model)
        return float(loss.detach())

    def compute_loss(self, outputs, targets: dict) -> torch.Tensor:
        """The recipe's loss (train.loss) on the raw outputs (a tensor, a list per stage, or OpenPose's dict)."""
        kind = self.cfg.train.loss
        if kind == "openpose":
            return openpose_loss({k: [o.float() for o in v] for k, v in outputs.items()}, targets,
                                 self.cfg.train.heatmap_loss_weight)
        outputs = [o.float() for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
        targets, weights = targets["heatmaps"], targets["weights"]
        if kind == "mse":
            return sum(keypoint_mse(o, targets, weights) for o in outputs)
        if kind == "mse_lr_latent":
            return sum(keypoint_mse_lr_latent(o, targets, weights, self.skeleton.flip_index) for o in outputs)
        if kind == "cpm":
            return cpm_loss(outputs, targets, weights)
        if kind == "cpn":
            return cpn_loss(outputs, targets, weights, self.cfg.train.ohkm_top_k)
        raise ValueError(f"train.loss must be 'mse', 'mse_lr_latent', 'cpm', 'cpn' or 'openpose', got {kind!r}")

    # -- validation and export
    def eval_model(self) -> torch.nn.Module:
        """The weights to evaluate and export: EMA if enabled, else the live model."""
        if not self.ema:
            return self.model
        model = build_model(self.cfg.model.name, num_keypoints=self.skeleton.num_keypoints, **self.model_params)
        model.load_state_dict(self.ema.state)
        return model.to(self.device)

    def validate(self) -> dict:
        if self.rank != 0:
            if self.distributed:
                dist.barrier()
            return {}
        from ..inference.topdown import predict_dataset
        from ..metrics import evaluate

        model = self.eval_model().eval()
        if self.bottom_up:
            from ..inference.bottomup import BottomUpEstimator, predict_coco

            results = predict_coco(BottomUpEstimator(model, self.sidecar()), self.val_set.coco, self.cfg.train.val_flip)
        else:
            results = predict_dataset(model, self.val_set, flip=self.cfg.train.val_flip,
                                      batch_size=self.cfg.train.batch_size)
        metrics = evaluate(self.val_set.coco, results, self.cfg.train.metric)
        key = "PCK@0.2" if self.cfg.train.metric == "pck" else "AP"
        scalars = {f"val_{k}": v for k, v in metrics.items() if isinstance(v, (int, float))}
        self._record({"step": self.step, "epoch": self.step / self.steps_per_epoch, **scalars})
        self.latest = {"value": float(metrics[key]), "step": self.step, "metric": key, "metrics": scalars}
        if metrics[key] > self.best["value"]:
            self.best = self.latest
            if self.cfg.train.keep == "best":
                save_weights(model, self.out / "best", self.sidecar())
        self._log(f"step {self.step}: val {key} = {metrics[key]:.4f} (best {self.best['value']:.4f} at {self.best['step']})")
        self.model.train()
        if self.distributed:
            dist.barrier()
        return metrics

    def sidecar(self) -> dict:
        cfg = self.cfg
        return {
            "format": "posekit-weights/1",
            "task": "bottomup" if self.bottom_up else "topdown",
            "model": {"name": cfg.model.name, "params": self.model_params},
            "num_keypoints": self.skeleton.num_keypoints,
            "skeleton": self.skeleton.name,
            "codec": codec_to_dict(self.codec),
            "input_size": list(self.codec.input_size),
            "padding": cfg.data.padding,
            "normalisation": {"mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "input": "RGB 0..255"},
            "training_data": {"train": asdict(cfg.data.train), "extra": [asdict(e) for e in cfg.data.extra],
                              "val": asdict(cfg.data.val) if cfg.data.val else None},
            "metric": self.best if self.cfg.train.keep == "best" else self.latest,
            "steps": self.step,
            "command": self.command,
            "config": config_to_dict(cfg),
        }

    def export(self):
        """``model.safetensors``: with ``train.keep: best`` the best validated weights if any, else the final ones."""
        best = self.out / "best.safetensors"
        if self.cfg.train.keep == "best" and best.exists():
            for suffix in (".safetensors", ".json"):
                (self.out / f"model{suffix}").write_bytes(best.with_suffix(suffix).read_bytes())
        else:
            save_weights(self.eval_model(), self.out / "model", self.sidecar())
        self._plot()

    # -- logging
    def _record(self, row: dict):
        if self.rank != 0:
            return
        self.history.append(row)
        path = self.out / "metrics.csv"
        keys = sorted({k for r in self.history for k in r})
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.history)
        (self.out / "history.json").write_text(json.dumps(self.history))

    def _plot(self):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        train = [r for r in self.history if "loss" in r]
        val = [r for r in self.history if any(k.startswith("val_") for k in r)]
        fig, ax = plt.subplots(1, 2, figsize=(10, 4))
        ax[0].plot([r["step"] for r in train], [r["loss"] for r in train])
        ax[0].set(xlabel="step", ylabel="training loss", yscale="log", title=self.cfg.name)
        key = "val_PCK@0.2" if self.cfg.train.metric == "pck" else "val_AP"
        ax[1].plot([r["step"] for r in val], [r.get(key, float("nan")) for r in val], marker="o")
        ax[1].set(xlabel="step", ylabel=key, title="validation")
        fig.tight_layout()
        fig.savefig(self.out / "curves.png", dpi=100)
        plt.close(fig)

    def _log(self, message: str):
        if self.rank == 0:
            print(message, flush=True)


def _changed_settings(old: dict, new: dict, prefix: str = "") -> list[str]:
    """'key: old -> new' for every leaf of two nested config dicts that differs."""
    changed = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += _changed_settings(a, b, f"{prefix}{key}.")
        elif a != b:
            changed.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return changed


def _seed_everything(seed: int):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    """RNG states as plain tensors/ints, so checkpoints load with ``weights_only=True``."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, torch.tensor(mt, dtype=torch.int64), gauss],
            "numpy": [torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "torch": torch.get_rng_state()}


def _set_rng_state(state: dict):
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt.tolist()), gauss))
    keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])


def train(cfg: Config, resume: bool = False, command: str | None = None) -> dict:
    """Train a recipe; returns the best validation record."""
    return Trainer(cfg, command, resume=resume).fit(resume=resume)
