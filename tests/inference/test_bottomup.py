"""Tests for bottom-up grouping: ground-truth maps (encode) -> group must give back every person."""

import numpy as np
import pytest
import torch
from torch import nn

from posekit.codecs.paf import PAFCodec
from posekit.inference.bottomup import (
    BottomUpEstimator,
    complete_people,
    find_peaks,
    group,
    group_with_scores,
    letterbox_matrix,
    match,
    scaled_input_size,
    spanning_tree,
)
from posekit.skeletons import COCO17, LSP14

# A standing person facing the camera, in units of its height from the top of the head
# (+x is the person's left). The head is drawn large so that face links stay >= 1.5
# heatmap pixels for people 24 pixels tall.
TEMPLATE = {
    "head_top": (0, 0), "nose": (0, 0.10), "left_eye": (0.06, 0.06), "right_eye": (-0.06, 0.06),
    "left_ear": (0.12, 0.10), "right_ear": (-0.12, 0.10), "neck": (0, 0.18),
    "left_shoulder": (0.17, 0.22), "right_shoulder": (-0.17, 0.22), "left_elbow": (0.25, 0.35),
    "right_elbow": (-0.25, 0.35), "left_wrist": (0.30, 0.50), "right_wrist": (-0.30, 0.50),
    "left_hip": (0.09, 0.55), "right_hip": (-0.09, 0.55), "left_knee": (0.10, 0.75),
    "right_knee": (-0.10, 0.75), "left_ankle": (0.10, 0.97), "right_ankle": (-0.10, 0.97),
}
FACE = {"nose", "left_eye", "right_eye", "left_ear", "right_ear", "head_top", "neck"}


def random_scene(skeleton, n: int, rng: np.random.Generator, map_size=(128, 128), cell: int = 32) -> np.ndarray:
    """n people (n, K, 3) in heatmap pixels (v = 2), one per grid cell of ``cell`` pixels, no overlap.

    Each person is the template, 24-28 pixels tall, possibly seen from the back
    (mirrored), with its arms and legs jittered by up to 0.05 of its height.
    """
    cols, rows = map_size[0] // cell, map_size[1] // cell
    if n > cols * rows:
        raise ValueError(f"{n} people do not fit in {cols} x {rows} cells")
    template = np.array([TEMPLATE[name] for name in skeleton.keypoints], np.float64)
    face = np.array([name in FACE for name in skeleton.keypoints])
    people = np.zeros((n, skeleton.num_keypoints, 3))
    for p, c in enumerate(rng.choice(cols * rows, n, replace=False)):
        height = rng.uniform(24, 28)
        xy = template + np.where(face[:, None], rng.uniform(-0.01, 0.01, template.shape),
                                 rng.uniform(-0.05, 0.05, template.shape))
        if rng.random() < 0.5:
            xy[:, 0] *= -1
        origin = np.array([(c % cols + 0.5) * cell, (c // cols) * cell + (cell - height) / 2])
        people[p, :, :2] = origin + rng.uniform(-1, 1, 2) + xy * height
        people[p, :, 2] = 2
    return people


def assert_recovered(found: np.ndarray, truth: np.ndarray, tolerance: float = 1.0):
    """Every true person has exactly one found person: all its labelled keypoints within
    ``tolerance`` pixels (max over x and y), its unlabelled ones absent."""
    assert len(found) == len(truth), f"found {len(found)} people, expected {len(truth)}"
    labelled = truth[..., 2] > 0
    used = set()
    for t, person in enumerate(truth):
        err = np.abs(found[:, :, :2] - person[None, :, :2]).max(-1)  # (N, K)
        ok = [i for i in range(len(found)) if np.all(err[i][labelled[t]] <= tolerance)
              and np.array_equal(found[i, :, 2] > 0, labelled[t])]
        assert len(ok) == 1 and ok[0] not in used, f"person {t}: candidates {ok}"
        used.add(ok[0])


def _maps(codec: PAFCodec, people_hm: np.ndarray) -> dict:
    kps = people_hm.copy()
    kps[..., :2] = codec.to_input(kps[..., :2])
    return codec.encode(kps)


@pytest.mark.parametrize("skeleton", [COCO17, LSP14], ids=lambda s: s.name)
@pytest.mark.parametrize("matching", ["hungarian", "greedy"])
def test_grouping_recovers_every_person_from_ground_truth_maps(skeleton, matching):
    codec = PAFCodec((512, 512), (128, 128), sigma=1.5, limb_width=1.0, skeleton=skeleton.name)
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 8, 10, 10):
        truth = random_scene(skeleton, n, rng)
        maps = _maps(codec, truth)
        found = group(maps["heatmaps"], maps["pafs"], skeleton, matching=matching)
        assert_recovered(found, truth)


def test_grouping_survives_missing_keypoints():
    """Missing leaves (wrists, ankles, nose) cut nothing; a missing left ear cuts coco17's face off
    its tree, and the left-over right-ear-shoulder link merges it back."""
    codec = PAFCodec((512, 512), (128, 128), skeleton="coco17")
    rng = np.random.default_rng(1)
    truth = random_scene(COCO17, 10, rng)
    for person in truth:
        drop = rng.choice([0, 9, 10, 15, 16], 2, replace=False)
        person[drop, 2] = 0
    truth[:5, COCO17.index("left_ear"), 2] = 0
    maps = _maps(codec, truth)
    assert_recovered(group(maps["heatmaps"], maps["pafs"], "coco17"), truth)


def test_completion_finds_weak_parts_and_leaves_found_ones():
    """Parts whose maps hold only a weak maximum (5% of a peak, below the 0.1 threshold, as occluded parts'
    maps do) are missing after grouping; completion puts each back where it is, on the right person."""
    codec = PAFCodec((512, 512), (128, 128), skeleton="coco17")
    rng = np.random.default_rng(3)
    truth = random_scene(COCO17, 10, rng)
    weak = truth.copy()
    for person in weak:  # parts whose loss cuts no person apart: nose, wrists, ankles
        person[rng.choice([0, 9, 10, 15, 16], 3, replace=False), 2] = 0
    full, dropped = _maps(codec, truth), _maps(codec, weak)
    heatmaps = dropped["heatmaps"] + 0.05 * (full["heatmaps"] - dropped["heatmaps"])
    pafs = full["pafs"]
    found = group(heatmaps, pafs, "coco17", min_parts=2)
    assert_recovered(found, weak)
    completed = group(heatmaps, pafs, "coco17", min_parts=2, completion_radius=0.5)
    assert_recovered(completed, truth, tolerance=0.5)
    filled = (completed[..., 2] > 0) & (completed[..., 2] < 0.1)
    assert filled.sum() == 30  # the 3 weak parts of each person, with their map value as score
    kept = found[..., 2] > 0  # completion moves no part that was found, nor the people's order
    np.testing.assert_array_equal(completed[kept], found[kept])
    np.testing.assert_array_equal(complete_people(found, heatmaps, COCO17.links, 0.5), completed)


def test_spanning_tree_keeps_listed_links_first():
    tree, extra = spanning_tree(COCO17.links, COCO17.num_keypoints)
    assert len(tree) == COCO17.num_keypoints - 1
    assert [COCO17.links[c] for c in extra] == [(5, 6), (0, 2), (4, 6)]
    tree, extra = spanning_tree(LSP14.links, LSP14.num_keypoints)
    assert len(tree) == 13 and [LSP14.links[c] for c in extra] == [(9, 12)]


def test_peaks_are_subpixel_and_one_per_plateau():
    codec = PAFCodec((64, 64), (64, 64), sigma=2.0, skeleton="lsp14")
    kps = np.zeros((2, 14, 3))
    kps[0, 0] = (10.3, 20.8, 2)
    kps[1, 0] = (40.5, 30.0, 2)  # halfway between two pixel centres: a two-pixel plateau
    peaks = find_peaks(codec.encode(kps)["heatmaps"])
    assert len(peaks) == 14 and all(len(p) == 0 for p in peaks[1:])
    np.testing.assert_allclose(peaks[0][:, :2], [[10.3, 20.8], [40.5, 30.0]], atol=1e-4)
    unrefined = find_peaks(codec.encode(kps)["heatmaps"], refine=False)[0]
    np.testing.assert_array_equal(unrefined[:, :2], [[10, 21], [40, 30]])


def test_matching_hungarian_beats_greedy_where_they_differ():
    scores = np.array([[0.9, 0.8], [0.7, -np.inf]])
    assert sorted(match(scores, "greedy")) == [(0, 0, 0.9)]
    assert sorted(match(scores, "hungarian")) == [(0, 1, 0.8), (1, 0, 0.7)]
    with pytest.raises(ValueError, match="matching"):
        match(scores, "auction")


def test_person_scores_and_filters():
    codec = PAFCodec((512, 512), (128, 128), skeleton="lsp14")
    truth = random_scene(LSP14, 3, np.random.default_rng(2))
    truth[2, 3:, 2] = 0  # person 2: only its right leg (3 parts)
    maps = _maps(codec, truth)
    people, scores = group_with_scores(maps["heatmaps"], maps["pafs"], "lsp14")
    assert len(people) == 3 and np.all(np.diff(scores) <= 0) and np.all(scores > 0.8)
    assert len(group(maps["heatmaps"], maps["pafs"], "lsp14", min_parts=4)) == 2
    assert len(group(maps["heatmaps"], maps["pafs"], "lsp14", min_score=1.01)) == 0
    empty = group(np.zeros((14, 8, 8)), np.zeros((28, 8, 8)), "lsp14")
    assert empty.shape == (0, 14, 3)
    with pytest.raises(ValueError, match="2 channels each"):
        group(maps["heatmaps"], maps["pafs"][:-2], "lsp14")


class _MapsModel(nn.Module):
    """Stands in for a network: returns fixed maps whatever the image."""

    def __init__(self, maps: dict):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))
        self.maps = {k: torch.from_numpy(v)[None] for k, v in maps.items()}

    def forward(self, images):
        return {"heatmaps": [self.maps["heatmaps"]], "pafs": [self.maps["pafs"]]}


def test_estimator_letterboxes_and_maps_back_to_image_pixels():
    codec = PAFCodec((256, 256), (128, 128), skeleton="lsp14")
    image = np.zeros((150, 300, 3), np.uint8)  # wide: scaled to fit the width, padded below
    affine = letterbox_matrix((300, 150), codec.input_size)
    assert affine[0, 0] == pytest.approx(255 / 299)
    truth_hm = random_scene(LSP14, 4, np.random.default_rng(3), map_size=(128, 64))  # top half of the map
    truth_input = codec.to_input(truth_hm[..., :2])
    truth_image = (truth_input - affine[:, 2]) / affine[0, 0]
    sidecar = {"skeleton": "lsp14", "codec": {"kind": "paf", **{k: list(v) if isinstance(v, tuple) else v
                                                                   for k, v in vars(codec).items()}}}
    model = _MapsModel(codec.encode(np.concatenate([truth_input, truth_hm[..., 2:]], -1)))
    kps, scores, person_scores = BottomUpEstimator(model, sidecar)(image)
    assert kps.shape == (4, 14, 2) and scores.shape == (4, 14) and person_scores.shape == (4,)
    found = np.concatenate([kps, scores[..., None]], -1)
    truth = np.concatenate([truth_image, truth_hm[..., 2:]], -1)
    assert_recovered(found, truth, tolerance=0.01)  # image pixels


class _SceneModel(nn.Module):
    """Stands in for a perfect network: the true maps of fixed people (image pixels) as the letterbox of an
    image of ``image_size`` puts them into an input of whatever size it is given (stride 4)."""

    def __init__(self, people_image: np.ndarray, image_size: tuple[int, int]):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))
        self.people, self.image_size = people_image, image_size
        self.input_sizes = []

    def forward(self, images):
        size = (images.shape[-1], images.shape[-2])
        self.input_sizes.append(size)
        codec = PAFCodec(size, (size[0] // 4, size[1] // 4), skeleton="lsp14")
        kps = self.people.copy()
        affine = letterbox_matrix(self.image_size, size)
        kps[..., :2] = kps[..., :2] * affine[0, 0]
        maps = codec.encode(kps)
        maps = {k: torch.from_numpy(v)[None].expand(len(images), -1, -1, -1) for k, v in maps.items()}
        if len(images) == 2:  # the flip test's mirrored input sees mirrored maps
            flipped = codec.flip_back(maps["heatmaps"][0].numpy(), maps["pafs"][0].numpy())
            maps = {k: torch.stack([maps[k][0], torch.from_numpy(f)]) for k, f in zip(("heatmaps", "pafs"), flipped)}
        return {"heatmaps": [maps["heatmaps"]], "pafs": [maps["pafs"]]}


@pytest.mark.parametrize("flip", [False, True])
def test_multi_scale_maps_land_on_the_reference_grid(flip):
    codec = PAFCodec((256, 256), (64, 64), skeleton="lsp14")
    image = np.zeros((200, 300, 3), np.uint8)  # wide: letterboxed to the width, padded below
    affine = letterbox_matrix((300, 200), codec.input_size)
    truth_hm = random_scene(LSP14, 2, np.random.default_rng(5), map_size=(64, 32))
    truth_image = truth_hm.copy()
    truth_image[..., :2] = codec.to_input(truth_hm[..., :2]) / affine[0, 0]
    sidecar = {"skeleton": "lsp14", "codec": {"kind": "paf", **{k: list(v) if isinstance(v, tuple) else v
                                                                   for k, v in vars(codec).items()}}}
    model = _SceneModel(truth_image, (300, 200))
    estimator = BottomUpEstimator(model, sidecar)
    reference = estimator.maps(image, flip)[0]
    for scales in [(1.5,), (0.75,), (1.0, 0.75, 1.25, 1.5)]:
        heatmaps, pafs, _ = estimator.maps(image, flip, scales)
        assert heatmaps.shape == reference.shape and pafs.shape == (2 * len(codec.limbs), 64, 64)
        kps, scores, _ = estimator.people(heatmaps, pafs, affine)
        found = np.concatenate([kps, scores[..., None]], -1)
        assert_recovered(found, truth_image, tolerance=1.0)  # image pixels; a grid misaligned by one map pixel is 4.7
    assert (192, 192) in model.input_sizes and (384, 384) in model.input_sizes and (320, 320) in model.input_sizes
    with pytest.raises(ValueError, match="positive"):
        estimator.maps(image, flip, (1.0, 0.0))


def test_scaled_input_sizes_are_multiples_of_16():
    assert scaled_input_size((256, 192), 1.5) == (384, 288)
    assert scaled_input_size((256, 192), 0.75) == (192, 144)
    assert scaled_input_size((256, 256), 1.1) == (288, 288)  # 281.6 -> nearest multiple of 16
    assert scaled_input_size((256, 256), 0.01) == (16, 16)  # never empty
