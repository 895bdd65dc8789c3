import pytest

from posekit.engine.config import ConfigError, load_config


def _write(tmp_path, text):
    p = tmp_path / "recipe.yaml"
    p.write_text(text)
    return p


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    p = _write(tmp_path, "train:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"recipe.yaml: unknown key 'train.epoch' \(did you mean 'train.epochs'\?\)"):
        load_config(p)


def test_wrong_type_is_reported(tmp_path):
    p = _write(tmp_path, "train:\n  lr: fast\n")
    with pytest.raises(ConfigError, match="train.lr must be float, got 'fast'"):
        load_config(p)
    with pytest.raises(ConfigError, match="train.epochs must be int"):
        load_config(_write(tmp_path, "train:\n  epochs: 2.5\n"))


def test_out_of_range_value_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"recipe.yaml: augment.erase_area must lie in \[0.02, 1\]"):
        load_config(_write(tmp_path, "augment:\n  erase_area: 2.0\n"))


def test_overrides_apply_and_are_parsed_as_yaml(tmp_path):
    p = _write(tmp_path, "train:\n  epochs: 3\ncodec:\n  sigma: 2.0\n")
    cfg = load_config(p, ["train.epochs=7", "codec.input_size=[96, 128]", "train.lr=3e-4"])
    assert cfg.train.epochs == 7 and cfg.codec.input_size == [96, 128] and cfg.train.lr == 3e-4
    with pytest.raises(ConfigError, match="command-line override train.lrr=...: unknown key 'train.lrr'"):
        load_config(p, ["train.lrr=1"])
    with pytest.raises(ConfigError, match="must look like key.sub=value"):
        load_config(p, ["train.lr"])


def test_paths_in_yaml_are_relative_to_the_file(tmp_path):
    p = _write(tmp_path, "data:\n  train: {format: coco, ann: data/a.json, images: data/img}\n")
    cfg = load_config(p)
    assert cfg.data.train.ann == str((tmp_path / "data" / "a.json").resolve())


def test_bundled_recipes_load():
    from pathlib import Path

    recipes = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    assert recipes
    for r in recipes:
        cfg = load_config(r)
        assert cfg.model.name and cfg.out_dir.startswith("runs/")


def test_extra_training_sources_are_a_list_of_checked_sources_with_relative_paths(tmp_path):
    p = _write(tmp_path, "data:\n  extra:\n    - {format: coco, ann: synth/a.json, images: synth/img, boxes: keypoints,"
                         " min_keypoints: 10}\n")
    cfg = load_config(p)
    (extra,) = cfg.data.extra
    assert extra.boxes == "keypoints" and extra.min_keypoints == 10
    assert extra.ann == str((tmp_path / "synth" / "a.json").resolve())
    assert load_config(None).data.extra == []
    with pytest.raises(ConfigError, match=r"unknown key 'data.extra\[0\].boxs' \(did you mean 'data.extra\[0\].boxes'"):
        load_config(_write(tmp_path, "data:\n  extra:\n    - {format: coco, boxs: keypoints}\n"))
    with pytest.raises(ConfigError, match="data.extra must be a list of mappings"):
        load_config(_write(tmp_path, "data:\n  extra: {format: coco}\n"))
    with pytest.raises(ConfigError, match=r"command-line override data.extra=...: unknown key 'data.extra\[0\].box'"):
        load_config(None, ["data.extra=[{box: keypoints}]"])
