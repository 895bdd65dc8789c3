import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from posekit.codecs.heatmap import UDPHeatmap
from posekit.data.coco import load_coco
from posekit.data.topdown import Augment, TopDownDataset
from posekit.data.transforms import apply_affine, invert_affine


def test_sample_keypoints_are_the_affine_image_of_the_annotation(tiny_coco):
    coco = load_coco(tiny_coco)
    ds = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment(), seed=3)
    for i in range(len(ds)):
        s = ds[i]
        person = ds.people[i]
        expected = apply_affine(person.keypoints[:, :2], s["affine"].numpy())
        flipped = np.allclose(s["keypoints"].numpy(), expected[ds.skeleton.flip_index], atol=1e-3)
        assert flipped or np.allclose(s["keypoints"].numpy(), expected, atol=1e-3)
        assert s["image"].dtype == torch.uint8 and s["image"].shape == (3, 64, 64)


def test_targets_decode_back_to_image_keypoints_through_the_inverse_affine(tiny_coco):
    coco = load_coco(tiny_coco)
    codec = UDPHeatmap((64, 64), (32, 32), 1.0)
    ds = TopDownDataset(coco, codec, Augment(half_body_prob=0.0), seed=1)
    for i in range(6):
        s = ds[i]
        coords, _ = codec.decode(s["heatmaps"][None].double())
        image_xy = apply_affine(coords[0].numpy(), invert_affine(s["affine"].numpy()))
        truth = ds.people[i].keypoints[:, :2]
        if not np.allclose(s["keypoints"].numpy(), apply_affine(truth, s["affine"].numpy()), atol=1e-3):
            truth = truth[ds.skeleton.flip_index]  # a flipped sample swaps left and right channels
        ok = s["weights"].numpy() > 0
        w, h = codec.heatmap_size
        hm = codec.to_heatmap(s["keypoints"].numpy())
        interior = (hm[:, 0] > 0.5) & (hm[:, 0] < w - 1.5) & (hm[:, 1] > 0.5) & (hm[:, 1] < h - 1.5)
        np.testing.assert_allclose(image_xy[ok & interior], truth[ok & interior], atol=0.1)


def test_augmentation_is_a_function_of_seed_epoch_and_index(tiny_coco):
    coco = load_coco(tiny_coco)
    a = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment(), seed=7)
    b = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment(), seed=7)
    assert torch.equal(a[2]["image"], b[2]["image"])
    b.set_epoch(1)
    assert not torch.equal(a[2]["affine"], b[2]["affine"])


def test_works_in_a_multi_worker_dataloader(tiny_coco):
    coco = load_coco(tiny_coco)
    ds = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment())
    batches = list(DataLoader(ds, batch_size=8, num_workers=2))
    assert sum(len(b["image"]) for b in batches) == len(ds)
    assert batches[0]["heatmaps"].shape == (8, 14, 16, 16)


def test_portrait_crop_frames_head_and_shoulders_from_the_top(tiny_coco):
    coco = load_coco(tiny_coco)
    still = dict(flip_prob=0.0, scale=0.0, rotation_prob=0.0, shift=0.0, half_body_prob=0.0, colour=0.0)
    ds = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment(portrait_prob=1.0, **still), seed=2)
    names = ("head_top", "neck", "right_shoulder", "left_shoulder")
    idx = [ds.skeleton.index(n) for n in names]
    for i in range(8):
        s = ds[i]
        pts = ds.people[i].keypoints[idx, :2]
        extent = (pts.max(0) - pts.min(0)).max()
        side = 63 / s["affine"][0, 0].item() / 1.25  # box side in image pixels (63 pixel steps across the crop)
        assert 1.5 - 1e-3 <= side / extent <= 2.2 + 1e-3
        crop = s["keypoints"].numpy()[idx]
        assert ((crop >= 0) & (crop <= 63)).all() and (s["weights"].numpy()[idx] > 0).all()
        assert 0.1 * 63 - 1e-3 <= crop[:, 1].min() <= 0.26 * 63 + 1e-3  # the head starts near the top


def test_portrait_crop_needs_both_shoulders(tiny_coco):
    coco = load_coco(tiny_coco)
    person = coco.trainable_people()[0]
    person.keypoints[coco.skeleton.index("left_shoulder"), 2] = 0
    still = dict(flip_prob=0.0, scale=0.0, rotation_prob=0.0, shift=0.0, half_body_prob=0.0, colour=0.0)
    portrait = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment(portrait_prob=1.0, **still))
    plain = TopDownDataset(coco, UDPHeatmap((64, 64), (16, 16), 1.0), Augment(**still))
    assert torch.equal(portrait[0]["affine"], plain[0]["affine"])
    assert not torch.equal(portrait[1]["affine"], plain[1]["affine"])


def test_random_erasing_paints_one_noise_rectangle_and_keeps_the_targets(tiny_coco):
    coco = load_coco(tiny_coco)
    codec = UDPHeatmap((64, 64), (16, 16), 1.0)
    plain = TopDownDataset(coco, codec, Augment(), seed=5)
    erased = TopDownDataset(coco, codec, Augment(erase_prob=1.0, erase_area=0.3), seed=5)
    for i in range(6):
        a, b = plain[i], erased[i]
        for key in ("heatmaps", "weights", "keypoints", "affine"):
            assert torch.equal(a[key], b[key])
        changed = (a["image"] != b["image"]).any(0).numpy()
        ys, xs = np.nonzero(changed)
        box = changed[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert box.mean() > 0.9  # one filled rectangle (noise may repeat a few original pixels)
        assert 0.02 * 0.9 <= box.size / (64 * 64) <= 0.3 * 1.1


def test_erase_area_out_of_range_is_refused():
    with pytest.raises(ValueError, match="erase_area"):
        Augment(erase_area=1.5)
