import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.codecs.heatmap import BeliefMapCodec, MSRAHeatmap, UDPHeatmap
from posekit.engine.distill import Teacher, _sampling_grid, blend_targets
from posekit.engine.trainer import Trainer
from posekit.io import save_weights

from .test_trainer import _cfg


def _resample(maps: torch.Tensor, student, teacher) -> torch.Tensor:
    grid = _sampling_grid(student, teacher).expand(maps.shape[0], -1, -1, -1)
    return F.grid_sample(maps, grid, mode="bilinear", align_corners=True)


def test_sampling_grid_of_one_codec_is_the_identity():
    codec = UDPHeatmap(input_size=(64, 48), heatmap_size=(16, 12), sigma=2.0)
    maps = torch.rand(2, 3, 12, 16)
    assert torch.allclose(_resample(maps, codec, codec), maps, atol=1e-5)


@pytest.mark.parametrize("student,tolerance", [  # input px; MSRA decodes to quarter heatmap pixels (1 px here)
    (UDPHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.5), 0.3),
    (MSRAHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=1.5), 1.2),
    (BeliefMapCodec(input_size=(128, 128), heatmap_size=(32, 32), sigma=2.0), 0.3),
])
def test_teacher_peak_lands_where_the_student_codec_puts_the_joint(student, tolerance):
    """A joint encoded by a 96x96 teacher codec, resampled onto the student grid, decodes to the same crop point."""
    teacher = UDPHeatmap(input_size=(96, 96), heatmap_size=(24, 24), sigma=2.0)
    rng = np.random.default_rng(0)
    in_s = np.asarray(student.input_size, np.float64)
    joints = rng.uniform(0.2, 0.8, (5, 2)) * (in_s - 1)  # student crop pixels
    in_t = (joints * (np.asarray(teacher.input_size) - 1) / (in_s - 1))
    maps = torch.from_numpy(teacher.encode(in_t, np.ones(5))["heatmaps"])[None]
    resampled = _resample(maps, student, teacher)
    if isinstance(student, BeliefMapCodec):
        resampled = torch.cat([resampled, 1 - resampled.amax(1, keepdim=True)], 1)
    decoded, _ = student.decode(resampled)
    # the UDP grid used for an MSRA student would be off by up to 1.8 px here, half a stride for a shifted one
    assert np.abs(decoded[0].numpy() - joints).max() < tolerance


def test_blend_targets_mixes_maps_and_rebuilds_the_background():
    gt = torch.rand(2, 4, 8, 8)
    gt[:, 3] = 1 - gt[:, :3].amax(1)
    weights = torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    teacher = torch.rand(2, 3, 8, 8)
    plain = {"heatmaps": gt[:, :3], "weights": weights[:, :3]}
    assert torch.equal(blend_targets(plain, teacher, 0.0, belief=False)["heatmaps"], gt[:, :3])
    assert torch.equal(blend_targets(plain, teacher, 1.0, belief=False)["heatmaps"], teacher)
    mixed = blend_targets({"heatmaps": gt, "weights": weights}, teacher, 0.25, belief=True)["heatmaps"]
    parts = 0.75 * gt[:, :3] + 0.25 * teacher
    assert torch.allclose(mixed[:, :3], parts)
    # image 0: part 1 is unlabelled, so it does not shape the background
    assert torch.allclose(mixed[0, 3], 1 - torch.maximum(parts[0, 0], parts[0, 2]))
    assert torch.allclose(mixed[1, 3], 1 - parts[1].amax(0))


def _save_teacher(tiny_coco, tmp_path, *extra) -> str:
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "teacher", "train.epochs=1", *extra), progress=False)
    return str(save_weights(trainer.model, tmp_path / "teacher" / "model", trainer.sidecar()))


def test_training_step_regresses_on_the_blended_target(tiny_coco, tmp_path):
    teacher_path = _save_teacher(tiny_coco, tmp_path)
    trainer = Trainer(_cfg(tiny_coco, tmp_path / "student", "train.epochs=1", f"train.teacher={teacher_path}",
                           "train.teacher_weight=0.25", "train.teacher_flip=false"), progress=False)
    seen = {}
    loss_of = trainer.compute_loss
    trainer.compute_loss = lambda outputs, targets: seen.setdefault("targets", targets) and loss_of(outputs, targets)
    batch = next(iter(torch.utils.data.DataLoader(trainer.train_set, batch_size=4)))
    trainer.train_step(batch)
    teacher_model = trainer.teacher.model
    from posekit.data.topdown import normalize

    with torch.no_grad():
        expected = teacher_model(normalize(batch["image"]).contiguous(memory_format=torch.channels_last))
    assert torch.allclose(seen["targets"]["heatmaps"], 0.75 * batch["heatmaps"] + 0.25 * expected, atol=1e-5)


def test_teacher_flip_averages_the_mirror_image(tiny_coco, tmp_path):
    teacher_path = _save_teacher(tiny_coco, tmp_path)
    codec = UDPHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0)
    from posekit.skeletons import get_skeleton

    lsp = get_skeleton("lsp14")
    plain = Teacher(teacher_path, codec, lsp, flip=False)
    flipped = Teacher(teacher_path, codec, lsp, flip=True)
    images = torch.randn(2, 3, 64, 64)
    mirrored = plain(images.flip(-1)).flip(-1)[:, list(lsp.flip_index)]
    assert torch.allclose(flipped(images), 0.5 * (plain(images) + mirrored), atol=1e-5)
    # a teacher at another input size sees the crop resized: 32x32 heatmaps for a 128x128 student
    big = Teacher(teacher_path, UDPHeatmap(input_size=(128, 128), heatmap_size=(32, 32), sigma=2.0), lsp, flip=False)
    assert big(torch.randn(1, 3, 128, 128)).shape == (1, 14, 32, 32)


def test_teacher_errors_name_the_problem(tiny_coco, tmp_path):
    teacher_path = _save_teacher(tiny_coco, tmp_path)
    with pytest.raises(ValueError, match="teacher_weight must lie in"):
        Trainer(_cfg(tiny_coco, tmp_path / "s", f"train.teacher={teacher_path}", "train.teacher_weight=1.5"),
                progress=False)
    from posekit.skeletons import get_skeleton

    with pytest.raises(ValueError, match="skeleton 'lsp14', the student's is 'coco17'"):
        Teacher(teacher_path, UDPHeatmap(input_size=(64, 64), heatmap_size=(16, 16)), get_skeleton("coco17"))
    with pytest.raises(FileNotFoundError, match="not in the zoo"):
        Trainer(_cfg(tiny_coco, tmp_path / "s", "train.teacher=no-such-model"), progress=False)
