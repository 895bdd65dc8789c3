import numpy as np
import pytest

from posekit.codecs.paf import PAFCodec
from posekit.data.bottomup import BottomUpDataset
from posekit.data.coco import load_coco
from posekit.data.topdown import Augment
from posekit.data.transforms import apply_affine, invert_affine
from posekit.inference.bottomup import group
from posekit.synth import SynthConfig, generate


@pytest.fixture(scope="module")
def synth_scenes(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate(4, out, seed=5, config=SynthConfig(width=160, height=128, people=(2, 3), mocap_dir=None))
    return load_coco(out / "annotations.json")


@pytest.mark.parametrize("augment", [None, Augment(rotation_prob=1.0, flip_prob=1.0, half_body_prob=0.0)])
def test_targets_group_back_to_the_annotated_people_through_the_inverse_affine(synth_scenes, augment):
    codec = PAFCodec(input_size=(193, 161), heatmap_size=(97, 81), sigma=1.5, limb_width=1.0, skeleton="coco17")
    ds = BottomUpDataset(synth_scenes, codec, augment, seed=1)
    for i in range(len(ds)):
        s = ds[i]
        assert s["image"].shape == (3, 161, 193) and s["pafs"].shape == (2 * len(codec.limbs), 81, 97)
        people = group(s["heatmaps"].numpy(), s["pafs"].numpy(), "coco17", min_parts=2, min_score=0.0)
        found = apply_affine(codec.to_input(people[..., :2].astype(np.float64)), invert_affine(s["affine"].numpy()))
        truth = [p for p in synth_scenes.people_by_image()[s["image_id"]] if p.num_keypoints >= 2]
        flip = augment is not None
        inside = 0
        for person in truth:
            kps = person.keypoints
            ok = kps[:, 2] > 0
            # the closest found person in image pixels (a flip swaps channels back through flip_index)
            cand = found[:, ds.skeleton.flip_index] if flip else found
            dists = [np.nanmean(np.linalg.norm(c[ok] - kps[ok, :2], axis=1)) for c in cand]
            if dists and min(dists) < 2.0:
                inside += 1
        assert inside >= len(truth) - 1  # a person pushed out of the crop by the augmentation may be lost


def test_crowd_and_unlabelled_people_are_masked(tmp_path):
    import json

    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((100, 100, 3), np.uint8))
    from posekit.skeletons import LSP14

    kps = [0.0] * 42
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 100, "height": 100}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 1, "bbox": [10, 10, 30, 30],
                             "keypoints": kps, "num_keypoints": 0, "area": 900.0}],
            "categories": [LSP14.to_coco_category()]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    coco = load_coco(tmp_path / "ann.json", images_dir=tmp_path)
    ds = BottomUpDataset(coco, PAFCodec(input_size=(100, 100), heatmap_size=(100, 100), skeleton="lsp14"))
    mask = ds[0]["mask"].numpy()
    assert mask[25, 25] == 0 and mask[80, 80] == 1
