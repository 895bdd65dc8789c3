"""Tests for the OpenPose targets: confidence maps, part affinity fields and the loss mask."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from posekit.codecs.paf import PAFCodec, ignore_polygons
from posekit.skeletons import LSP14

# input 127 px -> heatmap 64 px: the UDP scale (64-1)/(127-1) is exactly 1/2
CODEC = PAFCodec((127, 127), (64, 64), sigma=1.5, limb_width=1.5, skeleton="lsp14", links=((0, 1),))


def _person(points: dict[int, tuple[float, float]], k: int = LSP14.num_keypoints) -> np.ndarray:
    """(K,3) in input pixels from {index: heatmap (x, y)}; other keypoints unlabelled."""
    kps = np.zeros((k, 3))
    for j, xy in points.items():
        kps[j] = (2 * xy[0], 2 * xy[1], 2)
    return kps


def _reference_paf(start, end, limb_width, size):
    """The paper's L*_{c,k}, pixel by pixel (scalar code, independent of the vectorised codec)."""
    w, h = size
    v = (np.subtract(end, start)) / np.hypot(*np.subtract(end, start))
    length = np.hypot(*np.subtract(end, start))
    out = np.zeros((2, h, w))
    for y in range(h):
        for x in range(w):
            r = (x - start[0], y - start[1])
            along = v[0] * r[0] + v[1] * r[1]
            across = -v[1] * r[0] + v[0] * r[1]
            if 0 <= along <= length and abs(across) <= limb_width:
                out[:, y, x] = v
    return out


def test_paf_of_one_limb_equals_the_formula_on_off_and_beyond_the_ends():
    start, end = (10.3, 20.2), (40.7, 31.9)
    pafs = CODEC.encode(_person({0: start, 1: end})[None])["pafs"]
    expected = _reference_paf(start, end, 1.5, (64, 64))
    assert pafs.shape == (2, 64, 64)
    np.testing.assert_allclose(pafs, expected, atol=1e-6)
    v = np.subtract(end, start) / np.hypot(*np.subtract(end, start))
    normal = np.array([-v[1], v[0]])
    at = lambda p: pafs[:, int(round(p[1])), int(round(p[0]))]  # noqa: E731
    mid = np.add(start, end) / 2
    np.testing.assert_allclose(at(mid), v, atol=1e-6)  # on the limb: the unit vector
    assert np.all(at(mid + 3 * normal) == 0)  # off the limb: 3 px > sigma_l to the side
    assert np.all(at(np.subtract(start, 2 * v)) == 0)  # beyond the start
    assert np.all(at(np.add(end, 2 * v)) == 0)  # beyond the end


def test_overlapping_limbs_of_two_people_average():
    a = _person({0: (20.0, 30.0), 1: (45.0, 30.0)})  # horizontal limb through (30, 30)
    b = _person({0: (30.0, 15.0), 1: (30.0, 50.0)})  # vertical limb through (30, 30)
    pafs = CODEC.encode(np.stack([a, b]))["pafs"]
    np.testing.assert_allclose(pafs[:, 30, 30], [0.5, 0.5], atol=1e-6)  # n_c = 2: (v_a + v_b) / 2
    np.testing.assert_allclose(pafs[:, 30, 40], [1.0, 0.0], atol=1e-6)  # only a
    np.testing.assert_allclose(pafs[:, 45, 30], [0.0, 1.0], atol=1e-6)  # only b
    # antiparallel limbs of two people cancel where they overlap
    c = _person({0: (45.0, 30.0), 1: (20.0, 30.0)})
    np.testing.assert_allclose(CODEC.encode(np.stack([a, c]))["pafs"][:, 30, 30], [0.0, 0.0], atol=1e-6)


def test_limb_needs_both_ends_labelled():
    person = _person({0: (10.0, 10.0), 1: (30.0, 10.0)})
    person[1, 2] = 0
    targets = CODEC.encode(person[None])
    assert not targets["pafs"].any()
    assert targets["heatmaps"][0].max() == pytest.approx(1.0) and not targets["heatmaps"][1].any()


def test_confidence_map_is_the_max_over_people_with_sigma_squared():
    a = _person({3: (20.0, 20.0)})
    b = _person({3: (23.0, 21.0)})
    maps = CODEC.encode(np.stack([a, b]))["heatmaps"]
    ys, xs = np.mgrid[0:64, 0:64]
    ga = np.exp(-((xs - 20) ** 2 + (ys - 20) ** 2) / 1.5**2)
    gb = np.exp(-((xs - 23) ** 2 + (ys - 21) ** 2) / 1.5**2)
    np.testing.assert_allclose(maps[3], np.maximum(ga, gb), atol=1e-6)
    assert maps[3, 20, 21] == pytest.approx(np.exp(-1 / 1.5**2))  # the paper's exp(-d^2 / sigma^2)
    assert maps.shape == (LSP14.num_keypoints, 64, 64) and not np.delete(maps, 3, 0).any()


def test_udp_mapping_puts_the_last_input_pixel_on_the_last_heatmap_pixel():
    codec = PAFCodec((368, 368), (46, 46), skeleton="coco17")
    kps = np.zeros((17, 3))
    kps[0] = (367, 0, 2)
    assert np.unravel_index(codec.encode(kps[None])["heatmaps"][0].argmax(), (46, 46)) == (0, 45)
    np.testing.assert_allclose(codec.to_input(codec.to_heatmap([[367.0, 100.0]])), [[367.0, 100.0]])


def test_mask_zeroes_crowd_regions_and_people_without_keypoints():
    crowd_box = [20, 10, 40, 30]  # input pixels: heatmap x 10..30, y 5..20
    unlabelled = np.zeros((LSP14.num_keypoints, 3))  # a person with no keypoints, box below
    unlabelled_box = [60, 80, 30, 40]  # heatmap x 30..45, y 40..60
    person = _person({0: (50.0, 10.0), 1: (55.0, 20.0)})
    targets = CODEC.encode(np.stack([person, unlabelled]), ignore=ignore_polygons([crowd_box, unlabelled_box]))
    mask = targets["mask"]
    assert mask.shape == (64, 64) and mask.dtype == np.float32
    assert np.all(mask[6:20, 11:30] == 0) and np.all(mask[41:60, 31:45] == 0)
    assert mask[2, 2] == 1 and mask[30, 50] == 1 and mask[10, 50] == 1
    assert mask.sum() == pytest.approx(64 * 64 - 21 * 16 - 16 * 21, abs=80)  # box areas, give or take the edges
    # the same crowd region as an (H, W) boolean mask of the input
    ignore = np.zeros((127, 127), bool)
    ignore[10:41, 20:61] = True
    from_mask = CODEC.encode(person[None], ignore=ignore)["mask"]
    assert np.all(from_mask[5:21, 10:31] == 0) and from_mask.sum() == 64 * 64 - 16 * 21
    # polygons in the COCO segmentation form override the box
    poly = CODEC.encode(person[None], ignore=ignore_polygons([crowd_box], [[[20, 10, 60, 10, 20, 40]]]))["mask"]
    assert poly[6, 28] == 0 and poly[19, 28] == 1  # inside / outside the triangle, both inside the box


def test_codec_rebuilds_from_its_json_form():
    as_json = json.loads(json.dumps(asdict(CODEC)))
    assert PAFCodec(**as_json) == CODEC and CODEC.limbs == ((0, 1),)
    assert PAFCodec(skeleton="coco17").limbs == PAFCodec(skeleton="coco17", links=None).limbs
    with pytest.raises(ValueError, match="distinct keypoints"):
        PAFCodec(skeleton="lsp14", links=((0, 14),))


@pytest.mark.parametrize("skeleton", ["coco17", "lsp14"])
def test_flip_back_of_the_mirrored_scene_targets_gives_the_scene_targets(skeleton):
    from posekit.skeletons import get_skeleton

    codec = PAFCodec((127, 95), (64, 48), sigma=1.5, limb_width=1.0, skeleton=skeleton)
    sk = get_skeleton(skeleton)
    rng = np.random.default_rng(4)
    people = np.concatenate([rng.uniform(5, 90, (3, sk.num_keypoints, 2)) * (1.3, 1.0),
                             rng.integers(0, 3, (3, sk.num_keypoints, 1))], -1)
    mirrored = people[:, sk.flip_index].copy()
    mirrored[..., 0] = 126 - mirrored[..., 0]  # x -> (W-1) - x
    plain, flipped = codec.encode(people), codec.encode(mirrored)
    heatmaps, pafs = codec.flip_back(flipped["heatmaps"], flipped["pafs"])
    np.testing.assert_allclose(heatmaps, plain["heatmaps"], atol=1e-5)
    np.testing.assert_allclose(pafs, plain["pafs"], atol=1e-5)
    assert np.abs(plain["pafs"]).sum() > 100  # the scene has limbs


def test_flip_back_refuses_limbs_without_a_mirror_image():
    codec = PAFCodec((127, 127), (64, 64), skeleton="lsp14", links=((8, 7),))  # right shoulder -> right elbow only
    with pytest.raises(ValueError, match="no mirror image"):
        codec.flip_back(np.zeros((14, 64, 64), np.float32), np.zeros((2, 64, 64), np.float32))
