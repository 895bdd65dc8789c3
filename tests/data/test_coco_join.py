"""Tight keypoint boxes and joining datasets (used to train on several sources at once)."""
import json

import numpy as np
import pytest

from posekit.data.coco import keypoint_box, load_coco
from posekit.skeletons import COCO17, LSP14


def test_keypoint_box_is_tight_around_visible_keypoints_else_labelled_ones():
    kps = np.array([[10, 20, 2], [30, 25, 2], [100, 100, 1], [0, 0, 0]], np.float64)
    assert keypoint_box(kps).tolist() == [10, 20, 20, 5]
    kps[:2, 2] = 1  # nothing visible: all labelled points count
    assert keypoint_box(kps).tolist() == [10, 20, 90, 80]
    one = np.array([[5, 5, 2], [0, 0, 0]], np.float64)
    assert keypoint_box(one).tolist() == [5, 5, 1, 1]  # at least a pixel a side
    assert keypoint_box(np.zeros((3, 3))) is None


def _write(path, skeleton, ids, n_people):
    k = skeleton.num_keypoints
    rng = np.random.default_rng(len(ids))
    images = [{"id": i, "file_name": f"{i}.png", "width": 100, "height": 100} for i in ids]
    annotations = [{"id": 10 * i + j, "image_id": i, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 100, 100],
                    "area": 1e4, "num_keypoints": k,
                    "keypoints": np.c_[rng.uniform(10, 90, (k, 2)), np.full(k, 2)].ravel().tolist()}
                   for i in ids for j in range(n_people)]
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": [skeleton.to_coco_category()]}))
    return load_coco(path)


def test_concat_keeps_every_id_unique_and_each_person_on_its_own_image(tmp_path):
    a = _write(tmp_path / "a.json", LSP14, [1, 5], 1)
    b = _write(tmp_path / "b.json", LSP14, [1, 2, 3], 2)
    joined = a.concat(b)
    assert len(joined.images) == 5 and len(joined.people) == 2 + 6
    assert len({p.id for p in joined.people}) == 8
    for person, original in zip(joined.people[2:], b.people):
        assert joined.images[person.image_id].file_name == b.images[original.image_id].file_name
        assert joined.images[person.image_id].id == person.image_id
        np.testing.assert_array_equal(person.keypoints, original.keypoints)
    assert [p.image_id for p in joined.people[:2]] == [1, 5]  # the first dataset is unchanged


def test_concat_refuses_another_skeleton_and_keypoint_boxes_replace_the_files(tmp_path):
    a = _write(tmp_path / "a.json", LSP14, [1], 1)
    with pytest.raises(ValueError, match="b.json: skeleton coco17, cannot join .*a.json"):
        a.concat(_write(tmp_path / "b.json", COCO17, [1], 1))
    boxed = a.with_keypoint_boxes()
    kps = a.people[0].keypoints
    assert boxed.people[0].bbox.tolist() == pytest.approx([*kps[:, :2].min(0), *np.ptp(kps[:, :2], 0)], abs=1e-4)
    assert a.people[0].bbox.tolist() == [0, 0, 100, 100]  # the original is left alone
