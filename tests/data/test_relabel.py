import numpy as np
import pytest

from posekit.data.relabel import side_swap_gain, swap_sides
from posekit.skeletons import LSP14

# a frontal person in pixels: her right side on the image's left
FRONTAL = {
    "head_top": (50, 0), "neck": (50, 20), "right_shoulder": (30, 22), "left_shoulder": (70, 22),
    "right_elbow": (20, 45), "left_elbow": (80, 45), "right_wrist": (15, 70), "left_wrist": (85, 70),
    "right_hip": (38, 80), "left_hip": (62, 80), "right_knee": (36, 120), "left_knee": (64, 120),
    "right_ankle": (35, 160), "left_ankle": (65, 160),
}


def _label(visible=None) -> np.ndarray:
    """(14, 3) LSP14 label of FRONTAL, every joint visible unless ``visible`` says otherwise."""
    xy = np.array([FRONTAL[n] for n in LSP14.keypoints], np.float64)
    v = np.full(14, 2.0) if visible is None else np.asarray(visible, np.float64)
    return np.concatenate([xy, v[:, None]], 1)


def test_gain_counts_the_joints_a_swapped_label_wins():
    label = _label()
    mirrored = label[LSP14.flip_index]  # an observer-centric annotation of the same person
    pred = label[:, :2]
    # the label as given matches all 14; its swap only the 2 centre joints: -12
    # an observer-centric label matches the prediction only at the centre; swapped back it matches all: +12
    gain = side_swap_gain(np.stack([pred, pred]), np.stack([label, mirrored]), LSP14)
    np.testing.assert_array_equal(gain, [-12, 12])


def test_gain_counts_visible_joints_only_and_skips_people_without_torso():
    v = np.full(14, 2.0)
    v[LSP14.index("right_wrist")] = 1  # occluded: never counts
    label = _label(v)[LSP14.flip_index]
    v_no_torso = np.full(14, 2.0)
    v_no_torso[LSP14.index("left_hip")] = 0  # the mirror puts it in the right hip's slot
    no_torso = _label(v_no_torso)[LSP14.flip_index]
    pred = _label()[:, :2]
    # the occluded right wrist sits at the left wrist's slot after the mirror; 11 side joints count
    np.testing.assert_array_equal(side_swap_gain(np.stack([pred, pred]), np.stack([label, no_torso]), LSP14), [11, 0])


def test_swap_sides_changes_only_the_listed_annotations():
    label = _label()
    data = {"annotations": [{"id": i, "keypoints": label.reshape(-1).tolist()} for i in (1, 2)]}
    out = swap_sides(data, [2], LSP14)
    np.testing.assert_allclose(np.reshape(out["annotations"][0]["keypoints"], (14, 3)), label)
    np.testing.assert_allclose(np.reshape(out["annotations"][1]["keypoints"], (14, 3)), label[LSP14.flip_index])
    np.testing.assert_allclose(np.reshape(data["annotations"][1]["keypoints"], (14, 3)), label)  # input untouched
    twice = swap_sides(out, [2], LSP14)
    assert twice["annotations"][1]["keypoints"] == data["annotations"][1]["keypoints"]


def test_swap_sides_names_unknown_ids():
    data = {"annotations": [{"id": 1, "keypoints": _label().reshape(-1).tolist()}]}
    with pytest.raises(KeyError, match=r"\[7\]"):
        swap_sides(data, [1, 7], LSP14)
