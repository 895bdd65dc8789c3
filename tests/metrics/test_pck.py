import math

import numpy as np
import pytest

from posekit.data.coco import load_coco
from posekit.metrics import auc, bbox_size, epe, evaluate, evaluate_pck, format_table, pck, torso_size
from posekit.skeletons import COCO17, LSP14

from .synthetic import gt_as_results, make_coco, synthetic_coco


def _template(skeleton, seed=0, spread=30.0):
    """(K, 3) all-visible pose around the origin with a non-degenerate torso."""
    xy = np.random.default_rng(seed).normal(0, spread, (skeleton.num_keypoints, 2))
    return np.c_[xy, np.full(skeleton.num_keypoints, 2.0)]


def _shifted(kps, dx):
    out = np.array(kps, np.float64)
    out[:, 0] += dx
    return out


# ----------------------------------------------------------------------------- pck()
def test_pck_joint_exactly_at_threshold_is_correct_and_beyond_is_wrong():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[0.0, 2.0], [0.0, 2.5], [0.0, 0.0]]])  # norm 10, alpha 0.2 -> threshold 2 px
    per_joint, mean = pck(pred, gt, np.ones((1, 3), bool), np.array([10.0]), alpha=0.2)
    np.testing.assert_array_equal(per_joint, [1.0, 0.0, 1.0])
    assert mean == pytest.approx(2 / 3)


def test_pck_threshold_scales_with_each_persons_norm():
    gt = np.zeros((2, 1, 2))
    pred = np.full((2, 1, 2), [3.0, 0.0])
    per_joint, mean = pck(pred, gt, np.ones((2, 1), bool), np.array([10.0, 20.0]), alpha=0.2)
    assert mean == pytest.approx(0.5)  # 3 px > 2 px for the first person, <= 4 px for the second


def test_pck_masked_joints_do_not_count_and_never_counted_joint_is_nan():
    gt = np.zeros((2, 3, 2))
    pred = np.zeros((2, 3, 2))
    pred[:, 1] = 100.0  # far, but joint 1 is masked out everywhere
    pred[1, 2] = 100.0  # wrong where joint 2 counts
    mask = np.array([[True, False, False], [True, False, True]])
    per_joint, mean = pck(pred, gt, mask, np.array([10.0, 10.0]))
    assert per_joint[0] == 1.0 and per_joint[2] == 0.0
    assert math.isnan(per_joint[1])
    assert mean == pytest.approx(2 / 3)  # pooled over 3 counted joints, not (1 + 0) / 2


def test_pck_skips_people_with_nan_or_zero_norm():
    gt = np.zeros((3, 2, 2))
    pred = np.zeros((3, 2, 2))
    pred[1:] = 50.0  # wrong, but these people have no usable norm
    per_joint, mean = pck(pred, gt, np.ones((3, 2), bool), np.array([10.0, np.nan, 0.0]))
    np.testing.assert_array_equal(per_joint, [1.0, 1.0])
    assert mean == 1.0


def test_pck_with_nothing_counted_is_nan():
    per_joint, mean = pck(np.zeros((1, 2, 2)), np.zeros((1, 2, 2)), np.zeros((1, 2), bool), np.array([1.0]))
    assert np.isnan(per_joint).all() and math.isnan(mean)


# ----------------------------------------------------------------------------- norms
@pytest.mark.parametrize("skeleton", [COCO17, LSP14], ids=lambda s: s.name)
def test_torso_size_is_left_shoulder_to_right_hip_by_name(skeleton):
    kps = np.tile(_template(skeleton), (3, 1, 1))
    ls, rh = skeleton.index("left_shoulder"), skeleton.index("right_hip")
    kps[:, ls, :2] = [10.0, 20.0]
    kps[:, rh, :2] = [13.0, 24.0]
    kps[1, ls, 2] = 0  # unlabelled shoulder
    kps[2, rh, 2] = 1  # occluded but labelled hip still defines the torso
    size = torso_size(kps, skeleton)
    assert size[0] == pytest.approx(5.0) and size[2] == pytest.approx(5.0)
    assert math.isnan(size[1])


def test_bbox_size_is_the_longer_side():
    np.testing.assert_array_equal(bbox_size(np.array([[5, 5, 30, 80], [0, 0, 60, 20]])), [80, 60])


# ----------------------------------------------------------------------------- auc, epe
def test_auc_of_perfect_prediction_is_one():
    gt = np.random.default_rng(0).normal(size=(4, 5, 2))
    assert auc(gt, gt, np.ones((4, 5), bool), np.full(4, 7.0)) == pytest.approx(1.0)


def test_auc_at_constant_distance_matches_closed_form():
    d, norm, max_alpha = 10.5, 100.0, 0.5
    gt = np.zeros((2, 4, 2))
    pred = gt + [0.0, d]
    mask = np.ones((2, 4), bool)
    t = d / norm  # the curve steps from 0 to 1 at alpha = t
    for steps in (51, 5001):
        h = max_alpha / (steps - 1)
        expected = (steps - math.ceil(t / h)) / steps  # share of grid alphas with alpha >= t
        assert auc(pred, gt, mask, np.full(2, norm), max_alpha, steps) == pytest.approx(expected)
    assert auc(pred, gt, mask, np.full(2, norm), max_alpha, 5001) == pytest.approx(1 - t / max_alpha, abs=1e-3)


def test_epe_is_mean_distance_over_masked_joints():
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[3.0, 4.0], [0.0, 0.0], [100.0, 0.0]]])
    assert epe(pred, gt, np.array([[True, True, False]])) == pytest.approx(2.5)


# ----------------------------------------------------------------------------- evaluate_pck
@pytest.mark.parametrize("skeleton", [COCO17, LSP14], ids=lambda s: s.name)
def test_ground_truth_as_prediction_is_perfect(skeleton):
    gt = load_coco(synthetic_coco(skeleton))
    m = evaluate_pck(gt, gt_as_results(gt))
    assert m["PCK@0.2"] == 1.0 and m["PCK@0.2_bbox"] == 1.0 and m["AUC"] == pytest.approx(1.0)
    assert m["EPE"] == 0.0
    assert list(m["per_joint"]) == list(skeleton.keypoints) and set(m["per_joint"].values()) == {1.0}
    assert m["num_people"] == 6 and m["num_joints"] == 6 * skeleton.num_keypoints
    assert m["num_unmatched_gt"] == 0 and m["num_skipped_torso"] == 0


def test_known_pck_and_epe_on_one_person():
    kps = _template(COCO17)
    torso = torso_size(kps[None], COCO17)[0]
    gt = load_coco(make_coco(COCO17, [(1, kps)]))
    pred = kps.copy()
    pred[:4, 1] += 0.1 * torso  # within 0.2 torso
    pred[4:6, 1] += 0.3 * torso  # beyond
    m = evaluate_pck(gt, [{"image_id": 1, "keypoints": pred.ravel().tolist(), "score": 1.0}])
    assert m["PCK@0.2"] == pytest.approx(15 / 17)
    assert m["per_joint"]["nose"] == 1.0 and m["per_joint"]["right_ear"] == 0.0
    assert m["EPE"] == pytest.approx((4 * 0.1 + 2 * 0.3) * torso / 17)


def test_only_visible_joints_count():
    kps = _template(COCO17)
    kps[3, 2] = 1  # occluded: labelled but not scored
    gt = load_coco(make_coco(COCO17, [(1, kps)]))
    pred = kps.copy()
    pred[3, :2] += 500.0
    m = evaluate_pck(gt, [{"image_id": 1, "keypoints": pred.ravel().tolist(), "score": 1.0}])
    assert m["PCK@0.2"] == 1.0 and m["num_joints"] == 16 and math.isnan(m["per_joint"]["left_ear"])


def test_person_without_torso_is_skipped_for_torso_pck_but_scored_by_box():
    a, b = _template(COCO17, 0), _template(COCO17, 1)
    b[COCO17.index("right_hip"), 2] = 0
    gt = load_coco(make_coco(COCO17, [(1, a), (2, b)]))
    results = gt_as_results(gt)
    results[1]["keypoints"] = _shifted(gt.people[1].keypoints, 1000.0).ravel().tolist()
    m = evaluate_pck(gt, results)
    assert m["num_skipped_torso"] == 1
    assert m["PCK@0.2"] == 1.0 and m["AUC"] == pytest.approx(1.0)
    assert m["PCK@0.2_bbox"] == pytest.approx(17 / 33)


def test_hungarian_matching_ignores_order_and_extra_predictions():
    base = _template(COCO17)
    people = [(1, _shifted(base, 0)), (1, _shifted(base, 250)), (1, _shifted(base, 500)), (2, base)]
    gt = load_coco(make_coco(COCO17, people))
    results = gt_as_results(gt)[::-1]
    results.append({"image_id": 1, "keypoints": _shifted(base, 125).ravel().tolist(), "score": 0.9})
    results.append({"image_id": 3, "keypoints": base.ravel().tolist(), "score": 0.9})  # image without people
    m = evaluate_pck(gt, results)
    assert m["PCK@0.2"] == 1.0 and m["num_unmatched_gt"] == 0 and m["EPE"] == 0.0


def test_unmatched_person_counts_as_all_wrong():
    base = _template(COCO17)
    gt = load_coco(make_coco(COCO17, [(1, base), (1, _shifted(base, 300)), (2, base)]))
    results = gt_as_results(gt)[1:]
    m = evaluate_pck(gt, results)
    assert m["num_unmatched_gt"] == 1
    assert m["PCK@0.2"] == pytest.approx(2 / 3) and m["PCK@0.2_bbox"] == pytest.approx(2 / 3)
    assert m["EPE"] == 0.0  # over matched people only


def test_annotation_id_overrides_geometric_matching():
    base = _template(COCO17)
    gt = load_coco(make_coco(COCO17, [(1, base), (1, _shifted(base, 300))]))
    a, b = gt.trainable_people()
    swapped = [{"image_id": 1, "keypoints": b.keypoints.ravel().tolist(), "score": 1.0},
               {"image_id": 1, "keypoints": a.keypoints.ravel().tolist(), "score": 1.0}]
    assert evaluate_pck(gt, swapped)["PCK@0.2"] == 1.0
    swapped[0]["annotation_id"], swapped[1]["annotation_id"] = a.id, b.id
    m = evaluate_pck(gt, swapped)
    assert m["PCK@0.2"] == 0.0 and m["EPE"] == pytest.approx(300.0)


def test_crowd_and_unlabelled_people_are_not_scored():
    data = synthetic_coco(COCO17, (2,))
    data["annotations"].append(dict(data["annotations"][0], id=900, iscrowd=1))
    data["annotations"].append(dict(data["annotations"][0], id=901, num_keypoints=0, keypoints=[0] * 51))
    gt = load_coco(data)
    assert evaluate_pck(gt, gt_as_results(gt))["num_people"] == 2


def test_wrong_result_length_is_a_clear_error():
    gt = load_coco(synthetic_coco(COCO17, (1,)))
    with pytest.raises(ValueError, match="result #0: keypoints must hold 51 numbers, got 42"):
        evaluate_pck(gt, [{"image_id": 1, "keypoints": [0.0] * 42, "score": 1.0}])


def test_real_coco_mini_ground_truth_is_perfect(coco_mini):
    m = evaluate_pck(coco_mini, gt_as_results(coco_mini))
    assert m["num_people"] == 86 and m["PCK@0.2"] == 1.0 and m["PCK@0.2_bbox"] == 1.0

def test_annotation_id_claimed_twice_is_a_clear_error():
    gt = load_coco(synthetic_coco(COCO17, (1,)))
    result = dict(gt_as_results(gt)[0], annotation_id=gt.people[0].id)
    with pytest.raises(ValueError, match=f"result #1: annotation_id {gt.people[0].id} is claimed by two results"):
        evaluate_pck(gt, [result, result])



# ----------------------------------------------------------------------------- package API
def test_evaluate_dispatches_by_name_and_rejects_unknown():
    gt = load_coco(synthetic_coco(COCO17, (1,)))
    assert evaluate(gt, gt_as_results(gt), "pck") == evaluate_pck(gt, gt_as_results(gt))
    assert set(evaluate(gt, gt_as_results(gt), "coco")) == {"AP", "AP50", "AP75", "APm", "APl", "AR"}
    with pytest.raises(ValueError, match="unknown metric 'oks'; choose 'pck' or 'coco'"):
        evaluate(gt, [], "oks")


def test_format_table_lists_scalars_then_per_joint_block():
    text = format_table({"PCK@0.2": 0.81234, "num_people": np.int64(5), "per_joint": {"nose": float("nan")},
                         "curve": [0.1, 0.2]})
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert lines[2].split() == ["PCK@0.2", "0.8123"] and lines[3].split() == ["num_people", "5"]
    assert lines[5].split() == ["per_joint", "value"] and lines[7].split() == ["nose", "nan"]
    assert "curve" not in text
    assert len({line.index("value") for line in lines if "value" in line}) == 1  # aligned columns
