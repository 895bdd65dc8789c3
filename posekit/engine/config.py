"""Training recipes: one YAML file per recipe, loaded into dataclasses.

Unknown or mistyped keys fail with a message naming the file and the key (and
the closest known key). ``key.sub=value`` overrides apply on top; their values
are parsed as YAML (``train.lr=3e-4``, ``codec.input_size=[96,96]``).

Paths written in a YAML file are relative to that file; paths given as
command-line overrides are relative to the working directory.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..data.topdown import Augment


class ConfigError(ValueError):
    """A bad recipe: the message names the file and the key."""


@dataclass
class ModelConfig:
    name: str = "simplebaseline_resnet18"
    params: dict = field(default_factory=dict)
    pretrained: str | None = None  # local encoder/backbone weights file
    init: str | None = None  # local whole-model weights (.safetensors) to start from, e.g. to continue with a new schedule


@dataclass
class CodecConfig:
    kind: str = "udp"
    input_size: list = field(default_factory=lambda: [192, 256])  # W, H
    heatmap_size: list = field(default_factory=lambda: [48, 64])
    sigma: float = 2.0
    limb_width: float | None = None  # paf only: PAF half-width in heatmap pixels


@dataclass
class DataSource:
    """COCO JSON (``ann`` + ``images``), or LSP/LSPET (``joints`` + ``images`` + ``range``)."""

    format: str = "coco"
    ann: str | None = None
    joints: str | None = None
    images: str | None = None
    range: str | None = None
    limit: int | None = None  # use only the first N people (quick runs, tests)
    boxes: str = "annotation"  # top-down crops around: annotation (the file's bbox) | keypoints (tight, as LSP's)
    min_keypoints: int = 1  # top-down training: people with fewer labelled keypoints are left out


@dataclass
class DataConfig:
    train: DataSource = field(default_factory=DataSource)
    extra: list[DataSource] = field(default_factory=list)  # top-down: more training sources, joined to train
    val: DataSource | None = None
    padding: float = 1.25
    workers: int = 2


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    layer_decay: float | None = None  # ViT layer-wise lr decay
    warmup_steps: int = 500
    schedule: str = "cosine"  # cosine | step
    milestones: list = field(default_factory=list)  # epochs, for 'step'
    min_lr_ratio: float = 0.01
    clip_grad: float | None = 1.0
    ema: float | None = None  # EMA decay, e.g. 0.999
    amp: bool = False  # mixed precision: fp16 on CUDA, bf16 on CPUs with native bf16 (else fp32)
    seed: int = 0
    checkpoint_every: int = 200  # steps
    log_every: int = 20  # steps between metrics.csv rows
    val_every: int = 1  # epochs
    val_flip: bool = True
    keep: str = "best"  # exported as model.safetensors: best (highest validation metric) | last (final weights)
    metric: str = "pck"  # pck | coco
    # mse (summed over a list of outputs) | mse_lr_latent | cpm | openpose | cpn (any list of outputs: L2 on all but
    # the last, L2 with online hard keypoint mining on the last)
    loss: str = "mse"
    ohkm_top_k: int | None = None  # cpn: hard keypoints per instance; None = round(8 K / 17)
    heatmap_loss_weight: float = 1.0  # openpose: weight of the confidence-map terms against the PAF terms
    teacher: str | None = None  # top-down distillation: a trained model (zoo name or .safetensors path)
    teacher_weight: float = 0.5  # share of the teacher's heatmaps in the blended target
    teacher_flip: bool = True  # the teacher's maps averaged with its flip test
    teacher_scales: list = field(default_factory=lambda: [1.0])  # the teacher's multi-scale test (box-padding factors)
    threads: int | None = None  # torch intra-op threads (CPU)
    channels_last: bool = True


@dataclass
class Config:
    name: str = "run"
    out_dir: str = "runs/run"
    skeleton: str = "lsp14"
    model: ModelConfig = field(default_factory=ModelConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: Augment = field(default_factory=Augment)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str | None = None  # the YAML file it came from


def _build(cls, values, where: str, file: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{file}: {where or 'top level'}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            close = difflib.get_close_matches(key, names, 1)
            hint = f" (did you mean {'.'.join(filter(None, [where, close[0]]))!r}?)" if close else ""
            raise ConfigError(f"{file}: unknown key {path!r}{hint}; known keys here: {', '.join(names)}")
        kwargs[key] = _coerce(hints[key], value, path, file)
    try:
        return cls(**kwargs)
    except ValueError as e:  # a dataclass's own check of its values (__post_init__)
        raise ConfigError(f"{file}: {e}") from None


def _coerce(hint, value, path, file):
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args and typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType")) else hint
    if value is None and type(None) in typing.get_args(hint):
        return None
    if dataclasses.is_dataclass(base):
        return _build(base, value, path, file)
    item = typing.get_args(hint)[0] if typing.get_origin(hint) is list and typing.get_args(hint) else None
    if item is not None and dataclasses.is_dataclass(item):
        if not isinstance(value, list):
            raise ConfigError(f"{file}: {path} must be a list of mappings, got {value!r}")
        return [_build(item, v, f"{path}[{i}]", file) for i, v in enumerate(value)]
    if base is float and isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    checks = {float: (int, float), int: (int,), str: (str,), bool: (bool,), list: (list,), dict: (dict,)}
    ok = checks.get(base)
    if ok and (not isinstance(value, ok) or (base in (int, float) and isinstance(value, bool))):
        raise ConfigError(f"{file}: {path} must be {base.__name__}, got {value!r}")
    return float(value) if base is float else value


def _set_path(tree: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    node = tree
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            node[k] = {}
        node = node[k]
    node[keys[-1]] = value


def _resolve_paths(cfg: Config, base: Path, keys: set[str]) -> None:
    """Make relative data/weights paths absolute against ``base`` (skipping overridden ones)."""
    def fix(obj, attr, dotted):
        v = getattr(obj, attr)
        if v and dotted not in keys and not Path(v).is_absolute():
            setattr(obj, attr, str((base / v).resolve()))

    for split in ("train", "val"):
        src = getattr(cfg.data, split)
        if src is not None:
            for attr in ("ann", "joints", "images"):
                fix(src, attr, f"data.{split}.{attr}")
    for src in cfg.data.extra:  # a list is overridden as a whole: ``data.extra=[...]``
        for attr in ("ann", "joints", "images"):
            fix(src, attr, "data.extra")
    fix(cfg.model, "pretrained", "model.pretrained")
    fix(cfg.model, "init", "model.init")
    if cfg.train.teacher and cfg.train.teacher.endswith(".safetensors"):  # a file, not a zoo name
        fix(cfg.train, "teacher", "train.teacher")


def load_config(path: str | Path | None, overrides: list[str] = ()) -> Config:
    """Read a YAML recipe and apply ``key=value`` overrides."""
    tree: dict = {}
    file = "<overrides>"
    if path is not None:
        p = Path(path)
        file = str(p)
        if not p.is_file():
            raise ConfigError(f"{p}: config file missing")
        try:
            tree = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{p}: not valid YAML: {e}") from None
    overridden = set()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.sub=value")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        _set_path(tree, key, value)
        overridden.add(key)
    try:
        cfg = _build(Config, tree, "", file)
    except ConfigError as e:
        # the override whose key is the bad key or holds it (a list item: 'data.extra[0].boxs')
        bad = next((k for k in overridden if re.search(rf"['\s]{re.escape(k)}['\[.\s]", str(e))), None)
        if bad is None:
            raise
        raise ConfigError(str(e).replace(f"{file}:", f"command-line override {bad}=...:", 1)) from None
    cfg.source = file
    if path is not None:
        _resolve_paths(cfg, Path(path).resolve().parent, overridden)
    return cfg


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)
