import math

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.data.coco import load_coco
from posekit.metrics import evaluate_coco, oks
from posekit.metrics.coco import STATS, _coco_dataset
from posekit.skeletons import COCO17, LSP14

from .synthetic import COCO_MINI, gt_as_results, make_coco, synthetic_coco

SKELETONS = pytest.mark.parametrize("skeleton", [COCO17, LSP14], ids=lambda s: s.name)


def _shift_for_oks(person, sigmas, target):
    """Keypoints moved along x so that every joint's OKS term equals ``target``."""
    d = 2 * np.asarray(sigmas) * np.sqrt(-2 * person.area * np.log(target))
    kps = person.keypoints.astype(np.float64)
    kps[:, 0] += d
    return kps


# ----------------------------------------------------------------------------- oks()
def test_oks_of_one_joint_matches_formula():
    gt = np.array([[10.0, 10.0, 2], [50.0, 50.0, 0]])
    pred = np.array([[13.0, 14.0], [0.0, 0.0]])  # 5 px off; the unlabelled joint is ignored
    area, sigmas = 400.0, [0.1, 0.01]
    assert oks(pred, gt, area, sigmas) == pytest.approx(math.exp(-25 / (2 * area * 0.2**2)))


def test_oks_of_perfect_prediction_is_one_and_nan_without_labels():
    gt = np.c_[np.random.default_rng(0).uniform(0, 100, (17, 2)), np.full(17, 2)]
    assert oks(gt, gt, 900.0, COCO17.sigmas) == 1.0
    gt[:, 2] = 0
    assert math.isnan(oks(gt, gt, 900.0, COCO17.sigmas))


@SKELETONS
def test_oks_agrees_with_cocoeval(skeleton):
    gt = load_coco(synthetic_coco(skeleton, (1,)))
    person = gt.people[0]
    pred = person.keypoints[:, :2] + np.random.default_rng(1).normal(0, 4, (skeleton.num_keypoints, 2))
    coco_gt = COCO()
    coco_gt.dataset = _coco_dataset(gt)
    coco_gt.createIndex()
    coco_dt = coco_gt.loadRes([{"image_id": 1, "category_id": 1, "score": 1.0,
                                "keypoints": np.c_[pred, np.ones(len(pred))].ravel().tolist()}])
    ev = COCOeval(coco_gt, coco_dt, "keypoints")
    ev.params.kpt_oks_sigmas = np.array(skeleton.sigmas)
    ev.evaluate()
    assert oks(pred, person.keypoints, person.area, skeleton.sigmas) == pytest.approx(ev.ious[1, 1][0, 0])


# ----------------------------------------------------------------------------- evaluate_coco()
@SKELETONS
def test_ground_truth_as_prediction_gives_ap_one(skeleton):
    gt = load_coco(synthetic_coco(skeleton))
    stats = evaluate_coco(gt, gt_as_results(gt))
    assert list(stats) == list(STATS)
    assert all(v == pytest.approx(1.0) for v in stats.values()), stats


@SKELETONS
def test_shifted_predictions_lower_ap(skeleton):
    gt = load_coco(synthetic_coco(skeleton))
    aps = []
    for shift in (0.0, 3.0, 10.0):
        results = gt_as_results(gt)
        for r in results:
            r["keypoints"] = (np.array(r["keypoints"]) + np.tile([shift, shift, 0], skeleton.num_keypoints)).tolist()
        aps.append(evaluate_coco(gt, results)["AP"])
    assert aps[0] == pytest.approx(1.0) and aps[0] > aps[1] > aps[2]


@SKELETONS
def test_oks_between_thresholds_gives_known_ap(skeleton):
    """OKS 0.62 passes the thresholds 0.50, 0.55, 0.60 of ten: AP = 0.3, AP50 = 1, AP75 = 0.

    Holds only if the skeleton's own sigmas reach COCOeval.
    """
    gt = load_coco(synthetic_coco(skeleton, (1,)))
    kps = _shift_for_oks(gt.people[0], skeleton.sigmas, 0.62)
    stats = evaluate_coco(gt, [{"image_id": 1, "keypoints": kps.ravel().tolist(), "score": 1.0}])
    assert stats["AP"] == pytest.approx(0.3) and stats["AP50"] == pytest.approx(1.0) and stats["AP75"] == 0.0


def test_results_default_to_the_ground_truth_category():
    gt = load_coco(synthetic_coco(COCO17, category_id=7))
    results = [dict(r, category_id=1) for r in gt_as_results(gt)]
    assert evaluate_coco(gt, results)["AP"] == pytest.approx(1.0)
    assert results[0]["category_id"] == 1  # the caller's results are not modified


def test_crowd_regions_and_unlabelled_people_are_ignored():
    data = synthetic_coco(COCO17, (2,))
    data["annotations"].append(dict(data["annotations"][0], id=900, iscrowd=1))
    data["annotations"].append(dict(data["annotations"][1], id=901, num_keypoints=0, keypoints=[0] * 51))
    gt = load_coco(data)
    assert evaluate_coco(gt, gt_as_results(gt))["AP"] == pytest.approx(1.0)


def test_empty_results_give_zeros():
    gt = load_coco(synthetic_coco(COCO17))
    assert evaluate_coco(gt, []) == {name: 0.0 for name in STATS}


def test_missing_area_range_is_nan():
    base = np.c_[np.random.default_rng(0).normal(0, 100, (17, 2)) + 300, np.full(17, 2.0)]
    gt = load_coco(make_coco(COCO17, [(1, base)]))  # one large person, no medium one
    stats = evaluate_coco(gt, gt_as_results(gt))
    assert math.isnan(stats["APm"]) and stats["APl"] == pytest.approx(1.0)


def test_pycocotools_output_is_silenced(capsys):
    gt = load_coco(synthetic_coco(COCO17))
    evaluate_coco(gt, gt_as_results(gt))
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "result, message",
    [
        ({"image_id": 99, "keypoints": [0.0] * 51, "score": 1.0}, "result #0: image_id 99 is not in the ground truth"),
        ({"image_id": 1, "keypoints": [0.0] * 42, "score": 1.0}, "result #0: keypoints must hold 51 numbers"),
        ({"image_id": 1, "keypoints": [0.0] * 51}, "result #0: missing key 'score'"),
        ({"image_id": 1, "keypoints": [float("nan")] * 51, "score": 1.0}, "result #0: keypoints or score contain NaN"),
    ],
)
def test_bad_results_are_clear_errors(result, message):
    gt = load_coco(synthetic_coco(COCO17))
    with pytest.raises(ValueError, match=message):
        evaluate_coco(gt, [result])


# ----------------------------------------------------------------------------- real data
def test_real_coco_mini_ground_truth_gives_ap_one(coco_mini):
    people = coco_mini.trainable_people()
    assert len(people) == 86
    stats = evaluate_coco(coco_mini, gt_as_results(coco_mini))
    assert all(v == pytest.approx(1.0) for v in stats.values()), stats


def test_real_coco_mini_loads_with_its_images(coco_mini):
    gt = load_coco(coco_mini.path, images_dir=COCO_MINI / "train2017", check_images=True)
    assert len(gt.images) == 80 and len(gt.people) == 172 and sum(p.iscrowd for p in gt.people) > 0
