import numpy as np
import pytest
import torch

from posekit.codecs.heatmap import BeliefMapCodec, MSRAHeatmap, UDPHeatmap, flip_test
from posekit.data.coco import load_coco
from posekit.data.topdown import TopDownDataset, normalize
from posekit.data.transforms import apply_affine, crop_matrix
from posekit.engine import distill
from posekit.engine.distill import TeacherMaps, heatmap_affine
from posekit.engine.trainer import Trainer
from posekit.io import save_weights
from posekit.skeletons import get_skeleton

from ..inference.test_topdown import _BlobFinder
from .test_trainer import _cfg

LSP = get_skeleton("lsp14")
TEACHER_CODEC = UDPHeatmap(input_size=(96, 96), heatmap_size=(24, 24), sigma=2.0)


def _teacher_maps_of(keypoints: np.ndarray, plain_affine: np.ndarray) -> np.ndarray:
    """uint8 teacher maps (1,K,24,24): the teacher codec's targets for keypoints in image pixels."""
    maps = TEACHER_CODEC.encode(apply_affine(keypoints, plain_affine), np.ones(len(keypoints)))["heatmaps"]
    return (maps * 255).round().astype(np.uint8)[None]


def test_the_plain_crop_gets_the_stored_maps_back():
    codec = UDPHeatmap(input_size=(64, 48), heatmap_size=(16, 12), sigma=2.0)
    affine = crop_matrix((50.0, 40.0), (80.0, 60.0), 0.0, (64, 48))
    maps = np.random.default_rng(0).integers(0, 256, (1, 14, 12, 16), dtype=np.uint8)
    teacher = TeacherMaps(maps, heatmap_affine(codec, affine)[None], codec, LSP.flip_index, 0.5)
    assert np.allclose(teacher.warp(0, affine, flip=False), maps[0] / 255.0, atol=1e-5)


@pytest.mark.parametrize("student,tolerance", [  # input px; MSRA decodes to quarter heatmap pixels (1 px here)
    (UDPHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.5), 0.35),
    (MSRAHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.5), 1.2),
    (BeliefMapCodec(input_size=(128, 128), heatmap_size=(32, 32), sigma=2.0), 0.35),
])
@pytest.mark.parametrize("flip", [False, True])
def test_warped_teacher_peaks_land_on_the_augmented_joints(student, tolerance, flip):
    """Maps of a plain 96x96 crop, warped into a rotated, zoomed, shifted (and mirrored) student crop,
    decode to the joints as that crop shows them."""
    rng = np.random.default_rng(1)
    keypoints = rng.uniform(70, 130, (14, 2))  # image pixels, inside both crops
    plain = crop_matrix((100.0, 100.0), (120.0, 120.0), 0.0, TEACHER_CODEC.input_size)
    teacher = TeacherMaps(_teacher_maps_of(keypoints, plain), heatmap_affine(TEACHER_CODEC, plain)[None],
                          student, LSP.flip_index, 1.0)
    augmented = crop_matrix((104.0, 97.0), (100.0, 100.0), 25.0, student.input_size, flip)
    warped = torch.from_numpy(teacher.warp(0, augmented, flip))[None]
    if isinstance(student, BeliefMapCodec):
        warped = torch.cat([warped, 1 - warped.amax(1, keepdim=True)], 1)
    decoded, _ = student.decode(warped)
    expected = apply_affine(keypoints, augmented)
    if flip:
        expected = expected[list(LSP.flip_index)]
    # a grid misaligned by half a stride would be off by 2-4 px, a channel order mixed up by tens
    assert np.abs(decoded[0].numpy() - expected).max() < tolerance


def test_blend_mixes_labelled_maps_and_rebuilds_the_background():
    codec = BeliefMapCodec(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.5)
    affine = crop_matrix((32.0, 32.0), (64.0, 64.0), 0.0, (64, 64))
    rng = np.random.default_rng(2)
    keypoints = rng.uniform(10, 54, (14, 2))
    visible = np.ones(14)
    visible[3] = 0
    targets = codec.encode(apply_affine(keypoints, affine), visible)
    maps = rng.integers(0, 256, (1, 14, 16, 16), dtype=np.uint8)
    for weight in (0.0, 0.25, 1.0):
        teacher = TeacherMaps(maps, heatmap_affine(codec, affine)[None], codec, LSP.flip_index, weight)
        mixed = teacher.blend(0, targets, affine, flip=False)["heatmaps"]
        parts = (1 - weight) * targets["heatmaps"][:14] + weight * maps[0] / 255.0
        assert np.allclose(mixed[:14], parts, atol=1e-5)
        labelled = np.delete(parts, 3, 0)  # the unlabelled joint does not shape the background
        assert np.allclose(mixed[14], 1 - labelled.max(0), atol=1e-5)
    with pytest.raises(ValueError, match="teacher_weight must lie in"):
        TeacherMaps(maps, heatmap_affine(codec, affine)[None], codec, LSP.flip_index, 1.5)


def _save_teacher(tiny_coco, tmp_path) -> str:
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "teacher", "train.epochs=1"), progress=False)
    return str(save_weights(trainer.model, tmp_path / "teacher" / "model", trainer.sidecar()))


def _student_set(tiny_coco, augment=None, teacher=None):
    coco = load_coco(tiny_coco, images_dir=tiny_coco.parent / "images")
    codec = UDPHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0)
    return TopDownDataset(coco, codec, augment, 1.25, teacher=teacher)


def _blob_teacher(tiny_coco, tmp_path, monkeypatch) -> tuple[str, list]:
    """A saved teacher whose loading yields a :class:`_BlobFinder` (its maps follow the image; those of the tiny
    trained model are all but zero). Returns its path and a list that grows by one per load."""
    path = _save_teacher(tiny_coco, tmp_path)
    _, sidecar = distill.load_model(path)
    blob_finder = _BlobFinder(14, sidecar["codec"]["heatmap_size"]).eval()
    loads = []
    monkeypatch.setattr(distill, "load_model", lambda *a, **k: loads.append(1) or (blob_finder, sidecar))
    return path, loads


def test_teacher_pass_stores_the_models_flip_tested_maps_and_reuses_its_cache(tiny_coco, tmp_path, monkeypatch):
    path, loads = _blob_teacher(tiny_coco, tmp_path, monkeypatch)
    dataset = _student_set(tiny_coco)
    teacher = TeacherMaps.compute(path, dataset, 0.5, flip=True, batch_size=5, cache=tmp_path / "cache")
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))  # same codec: the plain crops
    with torch.no_grad():
        expected = flip_test(distill.load_model(path)[0], normalize(batch["image"]), LSP.flip_index).clamp(0, 1)
    assert expected.max() > 0.5
    assert np.abs(teacher.maps[:4] / 255.0 - expected.numpy()).max() <= 0.5 / 255 + 1e-4
    # a second pass for the same teacher, people and flip reads the cache; another flip setting recomputes
    loads.clear()
    again = TeacherMaps.compute(path, dataset, 0.5, flip=True, cache=tmp_path / "cache")
    assert np.array_equal(again.maps, teacher.maps) and np.array_equal(again.affines, teacher.affines)
    assert not loads
    TeacherMaps.compute(path, dataset, 0.5, flip=False, cache=tmp_path / "cache")
    assert loads


def test_multi_scale_teacher_pass_averages_on_the_plain_crops_grid(tiny_coco, tmp_path, monkeypatch):
    path, loads = _blob_teacher(tiny_coco, tmp_path, monkeypatch)
    dataset = _student_set(tiny_coco)
    single = TeacherMaps.compute(path, dataset, 0.5, flip=True, batch_size=5, cache=tmp_path / "cache")
    assert single.maps.max() > 100
    # the same scale twice: the second crop is resampled onto the first's grid exactly, so the mean is unchanged
    twice = TeacherMaps.compute(path, dataset, 0.5, flip=True, scales=(1.0, 1.0), batch_size=5)
    assert np.abs(twice.maps.astype(int) - single.maps).max() <= 1
    assert np.array_equal(twice.affines, single.affines)
    # another scale changes the maps but not their grid, and its cache key differs from the single scale's
    loads.clear()
    wider = TeacherMaps.compute(path, dataset, 0.5, flip=True, scales=(1.0, 1.3), cache=tmp_path / "cache")
    assert loads and np.array_equal(wider.affines, single.affines)
    assert np.abs(wider.maps.astype(int) - single.maps).max() > 20
    with pytest.raises(ValueError, match="test scales must be positive"):
        TeacherMaps.compute(path, dataset, 0.5, scales=(1.0, 0.0))


def test_samples_carry_the_blended_target(tiny_coco, tmp_path):
    from posekit.data.topdown import Augment

    path = _save_teacher(tiny_coco, tmp_path)
    teacher = TeacherMaps.compute(path, _student_set(tiny_coco), 0.25, flip=False)
    augment = Augment(rotation_prob=1.0, flip_prob=0.5, half_body_prob=0.0)
    plain, blended = _student_set(tiny_coco, augment), _student_set(tiny_coco, augment, teacher)
    for index in range(6):
        a, b = plain[index], blended[index]
        flipped = a["affine"][0, 0].item() < 0
        expected = 0.75 * a["heatmaps"].numpy() + 0.25 * teacher.warp(index, a["affine"].numpy(), flipped)
        assert np.allclose(b["heatmaps"].numpy(), expected, atol=1e-6)
        assert torch.equal(a["image"], b["image"])


def test_distilled_training_runs_and_errors_name_the_problem(tiny_coco, tmp_path):
    path = _save_teacher(tiny_coco, tmp_path)
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "student", "train.epochs=2", "data.train.limit=8",
                           f"train.teacher={path}", "train.teacher_weight=0.5"), progress=False)
    assert len(trainer.train_set.teacher) == len(trainer.train_set) == 8
    trainer.fit()
    assert (tmp_path / "student" / "teacher" / "teacher_maps.npy").exists()
    losses = [r["loss"] for r in trainer.history if "loss" in r]
    assert losses and all(np.isfinite(losses))
    with pytest.raises(ValueError, match="teacher_weight must lie in"):
        Trainer(_cfg(tiny_coco, tmp_path / "s", f"train.teacher={path}", "train.teacher_weight=1.5"), progress=False)
    with pytest.raises(ValueError, match="skeleton 'lsp14', the student's is 'coco17'"):
        distill._check_teacher(path, {"skeleton": "lsp14"}, "coco17")
    with pytest.raises(FileNotFoundError, match="not in the zoo"):
        Trainer(_cfg(tiny_coco, tmp_path / "s", "train.teacher=no-such-model"), progress=False)
