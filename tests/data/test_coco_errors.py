"""Malformed COCO keypoint files: every problem is one AnnotationError naming file, record and problem."""
import copy
import json

import numpy as np
import pytest

from posekit.data.coco import AnnotationError, load_coco, load_results
from posekit.skeletons import COCO17

K = COCO17.num_keypoints


def _person(ann_id, image_id, x0, y0, visibility=2):
    xy = np.array([x0, y0]) + np.random.default_rng(ann_id).uniform(0, 80, (K, 2))
    return {
        "id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0,
        "bbox": [x0, y0, 80.0, 80.0], "area": 6400.0, "num_keypoints": K if visibility else 0,
        "keypoints": np.c_[xy, np.full(K, visibility)].ravel().tolist(),
    }


def _valid() -> dict:
    """Two images; image 1 holds two people (ids 7, 8), image 2 one (id 9)."""
    return {
        "images": [{"id": 1, "file_name": "a.png", "width": 320, "height": 240},
                   {"id": 2, "file_name": "b.png", "width": 320, "height": 240}],
        "annotations": [_person(7, 1, 10.0, 20.0), _person(8, 1, 150.0, 40.0), _person(9, 2, 30.0, 30.0)],
        "categories": [COCO17.to_coco_category(1)],
    }


def _write(tmp_path, data, tokens: dict | None = None):
    """Write ``data`` as JSON; ``tokens`` replaces quoted placeholders by raw JSON text (e.g. NaN)."""
    text = data if isinstance(data, str) else json.dumps(data)
    for placeholder, raw in (tokens or {}).items():
        text = text.replace(json.dumps(placeholder), raw)
    path = tmp_path / "person_keypoints.json"
    path.write_text(text)
    return path


def _error(call, *args, **kwargs) -> str:
    with pytest.raises(AnnotationError) as info:
        call(*args, **kwargs)
    return str(info.value)


def _assert_names(message, path, record, problem):
    assert message.startswith(f"{path}: "), message
    assert record in message, message
    assert problem in message, message


def _set(path_keys, value):
    """An edit setting ``data[k0][k1]...`` to ``value``."""
    def edit(data):
        target = data
        for key in path_keys[:-1]:
            target = target[key]
        target[path_keys[-1]] = value
    return edit


def _drop(path_keys):
    def edit(data):
        target = data
        for key in path_keys[:-1]:
            target = target[key]
        del target[path_keys[-1]]
    return edit


def _keypoint(ann, index, value):
    return _set(("annotations", ann, "keypoints", index), value)


# ----------------------------------------------------------------------------- load_coco
def test_valid_file_loads(tmp_path):
    gt = load_coco(_write(tmp_path, _valid()))
    assert gt.skeleton is COCO17 and len(gt.people) == 3 and gt.people[0].keypoints.shape == (K, 3)


def test_not_json(tmp_path):
    path = _write(tmp_path, '{"images": [1, 2,')
    _assert_names(_error(load_coco, path), path, "line 1", "not valid JSON")


def test_binary_file_is_not_json(tmp_path):
    path = tmp_path / "person_keypoints.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert _error(load_coco, path).startswith(f"{path}: ")


def test_top_level_not_an_object(tmp_path):
    path = _write(tmp_path, [_valid()])
    _assert_names(_error(load_coco, path), path, "top level", "expected a JSON object, got list")


@pytest.mark.parametrize("key", ["images", "annotations", "categories"])
def test_missing_top_level_key(tmp_path, key):
    data = _valid()
    del data[key]
    path = _write(tmp_path, data)
    _assert_names(_error(load_coco, path), path, "top level", f"missing key {key!r}")


def test_missing_image_id_names_the_image_position(tmp_path):
    data = _valid()
    del data["images"][1]["id"]
    path = _write(tmp_path, data)
    _assert_names(_error(load_coco, path), path, "image #1", "missing key 'id'")


@pytest.mark.parametrize("key", ["bbox", "image_id"])
def test_missing_annotation_key_names_the_annotation_id(tmp_path, key):
    data = _valid()
    del data["annotations"][1][key]
    path = _write(tmp_path, data)
    _assert_names(_error(load_coco, path), path, "annotation id=8", f"missing key {key!r}")


@pytest.mark.parametrize(
    "edit, record, problem",
    [
        (_drop(("annotations", 1, "keypoints")), "annotation id=8", "missing key 'keypoints'"),
        (_set(("annotations", 1, "keypoints"), [0.0] * (3 * K - 3)), "annotation id=8",
         f"keypoints must hold {3 * K} numbers ({K} x [x, y, v]) for coco17, got {3 * K - 3}"),
        (_set(("annotations", 1, "keypoints"), "1 2 2"), "annotation id=8", "keypoints must hold"),
        (_keypoint(1, 4, "12"), "annotation id=8", "keypoint value must be a number, got '12'"),
        (_set(("annotations", 2, "bbox"), [0.0, 0.0, 10.0]), "annotation id=9", "bbox must be [x, y, w, h]"),
        (_set(("annotations", 2, "bbox"), [5.0, 5.0, 0.0, 10.0]), "annotation id=9", "bbox has zero or negative size"),
        (_set(("annotations", 2, "bbox"), [5.0, 5.0, 10.0, -3.0]), "annotation id=9", "bbox has zero or negative size"),
        (_set(("annotations", 2, "image_id"), 99), "annotation id=9", "unknown image_id 99"),
        (_set(("annotations", 2, "id"), 7), "annotation id=7", "duplicate annotation id"),
        (_set(("images", 1, "id"), 1), "image id=1", "duplicate image id"),
        (_keypoint(0, 2, 3), "annotation id=7", "keypoint visibility must be 0, 1 or 2, got [2.0, 3.0]"),
        (_keypoint(0, 5, -1), "annotation id=7", "keypoint visibility must be 0, 1 or 2, got [-1.0, 2.0]"),
        (_set(("annotations", 0, "num_keypoints"), 3), "annotation id=7", f"num_keypoints is 3 but {K} keypoints"),
        (_set(("images", 0, "width"), "wide"), "image id=1", "width must be a number, got 'wide'"),
    ],
    ids=["no-keypoints", "keypoints-short", "keypoints-string", "keypoint-string", "bbox-3-values", "bbox-zero-w",
         "bbox-negative-h", "unknown-image", "duplicate-annotation", "duplicate-image", "visibility-3",
         "visibility-negative", "num-keypoints-mismatch", "width-string"],
)
def test_malformed_record(tmp_path, edit, record, problem):
    data = _valid()
    edit(data)
    path = _write(tmp_path, data)
    _assert_names(_error(load_coco, path), path, record, problem)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    "field, edit, record",
    [
        ("keypoint value", _keypoint(1, 3, "@TOKEN@"), "annotation id=8"),
        ("bbox value", _set(("annotations", 2, "bbox", 1), "@TOKEN@"), "annotation id=9"),
        ("height", _set(("images", 1, "height"), "@TOKEN@"), "image id=2"),
    ],
    ids=["keypoint", "bbox", "height"],
)
def test_non_finite_number_token(tmp_path, token, field, edit, record):
    data = _valid()
    edit(data)
    path = _write(tmp_path, data, {"@TOKEN@": token})
    assert token in path.read_text()
    _assert_names(_error(load_coco, path), path, record, f"{field} is {float(token)} (not finite)")


def test_non_finite_area(tmp_path):
    data = _valid()
    data["annotations"][1]["area"] = "@TOKEN@"
    path = _write(tmp_path, data, {"@TOKEN@": "NaN"})
    _assert_names(_error(load_coco, path), path, "annotation id=8", "area")


def test_unknown_keypoint_set_names_the_category(tmp_path):
    data = _valid()
    data["categories"][0]["keypoints"] = ["head", "tail"]
    del data["categories"][0]["posekit_skeleton"]
    path = _write(tmp_path, data)
    _assert_names(_error(load_coco, path), path, "category id=1", "match no known skeleton")


def _images_dir(tmp_path, broken: str | None = None):
    import cv2

    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), np.zeros((24, 32, 3), np.uint8))
    if broken == "missing":
        (folder / "b.png").unlink()
    elif broken == "unreadable":
        (folder / "b.png").write_bytes(b"this is not a png")
    return folder


def test_readable_images_pass_check(tmp_path):
    gt = load_coco(_write(tmp_path, _valid()), images_dir=_images_dir(tmp_path), check_images=True)
    assert gt.images[2].path == tmp_path / "images" / "b.png"


@pytest.mark.parametrize("broken", ["missing", "unreadable"])
def test_bad_image_file_with_check_images(tmp_path, broken):
    folder = _images_dir(tmp_path, broken)
    path = _write(tmp_path, _valid())
    message = _error(load_coco, path, images_dir=folder, check_images=True)
    _assert_names(message, path, "image id=2", f"image file {broken}: {folder / 'b.png'}")
    load_coco(path, images_dir=folder)  # without check_images the file is not opened


def test_images_folder_next_to_the_file_is_the_default(tmp_path):
    folder = _images_dir(tmp_path, "missing")
    path = _write(tmp_path, _valid())
    message = _error(load_coco, path, check_images=True)
    _assert_names(message, path, "image id=2", f"image file missing: {folder / 'b.png'}")


def test_check_images_without_an_images_folder_is_an_error(tmp_path):
    with pytest.raises(ValueError):  # AnnotationError or a plain argument error
        load_coco(_write(tmp_path, _valid()), check_images=True)


# ----------------------------------------------------------------------------- legitimate unusable records
def test_crowd_and_unlabelled_people_load_but_are_not_trainable(tmp_path):
    data = _valid()
    crowd = {"id": 20, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [0.0, 0.0, 300.0, 200.0],
             "area": 20000.0, "segmentation": {"counts": [0, 10], "size": [240, 320]}}  # no keypoints key
    data["annotations"] += [crowd, _person(21, 2, 100.0, 100.0, visibility=0)]
    gt = load_coco(_write(tmp_path, data))
    by_id = {p.id: p for p in gt.people}
    assert set(by_id) == {7, 8, 9, 20, 21}
    assert by_id[20].iscrowd and by_id[20].num_keypoints == 0 and by_id[20].keypoints.shape == (K, 3)
    assert not by_id[21].iscrowd and by_id[21].num_keypoints == 0
    assert [p.id for p in gt.trainable_people()] == [7, 8, 9]


def test_several_people_per_image(tmp_path):
    gt = load_coco(_write(tmp_path, _valid()))
    groups = {image_id: [p.id for p in people] for image_id, people in gt.people_by_image().items()}
    assert groups == {1: [7, 8], 2: [9]}
    np.testing.assert_allclose(gt.people[1].keypoints.ravel(), _valid()["annotations"][1]["keypoints"], rtol=1e-6)


def test_other_categories_are_skipped(tmp_path):
    data = _valid()
    data["categories"].append({"id": 2, "name": "dog"})
    data["annotations"].append({"id": 30, "image_id": 1, "category_id": 2, "bbox": [1.0, 1.0, 5.0, 5.0]})
    assert [p.id for p in load_coco(_write(tmp_path, data)).people] == [7, 8, 9]


# ----------------------------------------------------------------------------- load_results
def _results() -> list[dict]:
    return [{"image_id": a["image_id"], "category_id": 1, "keypoints": copy.copy(a["keypoints"]), "score": 0.9}
            for a in _valid()["annotations"]]


def test_valid_results_load_and_missing_score_defaults_to_mean_keypoint_score(tmp_path):
    results = _results()
    del results[1]["score"]
    results[1]["keypoints"][2::3] = [0.5] * K
    loaded = load_results(_write(tmp_path, results), K)
    assert len(loaded) == 3 and loaded[0]["score"] == 0.9 and loaded[1]["score"] == pytest.approx(0.5)


def test_results_not_json(tmp_path):
    path = _write(tmp_path, '[{"image_id": 1,')
    _assert_names(_error(load_results, path, K), path, "line 1", "not valid JSON")


def test_results_top_level_not_a_list(tmp_path):
    path = _write(tmp_path, {"annotations": _results()})
    _assert_names(_error(load_results, path, K), path, "top level", "must be a JSON list")


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda r: r.__setitem__(1, [1, 2, 3]), "must be an object"),
        (lambda r: r[1].pop("image_id"), "missing key 'image_id'"),
        (lambda r: r[1].pop("keypoints"), "missing key 'keypoints'"),
        (lambda r: r[1].__setitem__("keypoints", [1.0] * (3 * K + 1)),
         f"keypoints must hold {3 * K} numbers, got {3 * K + 1}"),
        (lambda r: r[1]["keypoints"].__setitem__(0, None), "keypoint value must be a number, got None"),
        (lambda r: r[1]["keypoints"].__setitem__(0, "@TOKEN@"), "keypoint value is nan (not finite)"),
    ],
    ids=["not-object", "no-image-id", "no-keypoints", "keypoints-long", "keypoint-null", "keypoint-nan"],
)
def test_malformed_result(tmp_path, edit, problem):
    results = _results()
    edit(results)
    path = _write(tmp_path, results, {"@TOKEN@": "NaN"})
    _assert_names(_error(load_results, path, K), path, "result #1", problem)


def test_result_with_non_finite_score(tmp_path):
    results = _results()
    results[1]["score"] = "@TOKEN@"
    path = _write(tmp_path, results, {"@TOKEN@": "NaN"})
    _assert_names(_error(load_results, path, K), path, "result #1", "score")
