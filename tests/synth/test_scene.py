from pathlib import Path

import numpy as np
import pytest

from posekit.skeletons import get_skeleton
from posekit.synth import parts, render, render_scene, SynthConfig
from posekit.synth.body import JOINTS, J

MOCAP = Path(__file__).parents[2] / ".." / "shared" / "data" / "mocap" / "bandai_namco_1"
# Mocap poses when the data is present (else random poses: the geometry checks hold either way).
CONFIG = SynthConfig(width=128, height=112, people=(2, 4), keypoints="coco17", person_scale=(0.4, 1.1),
                     mocap_dir=str(MOCAP) if (MOCAP / "data").is_dir() else None, random_pose_prob=0.3)
SCENES = range(8)


@pytest.fixture(scope="module")
def scenes():
    return [render_scene(5, i, CONFIG) for i in SCENES]


def pixel_of(kps):
    return np.floor(kps[..., :2] + 0.5).astype(int)


def test_label_maps_agree_on_what_is_background(scenes):
    for s in scenes:
        person = s["instances"] > 0
        assert person.any() and not person.all()
        np.testing.assert_array_equal(person, s["parts"] > 0)
        np.testing.assert_array_equal(person, s["depth"] > 0)
        np.testing.assert_array_equal(person, np.any(s["normals"] != 0, axis=-1))
        assert set(np.unique(s["instances"][person])) == set(s["ids"].tolist())
        assert s["parts"].max() < len(parts.PARTS)


def test_visible_keypoints_fall_on_their_own_person(scenes):
    checked = 0
    for s in scenes:
        for ann_id, kps in zip(s["ids"], s["keypoints"]):
            u, v = pixel_of(kps[kps[:, 2] == 2]).T
            assert np.all(s["instances"][v, u] == ann_id)
            checked += len(u)
    assert checked > 50


def test_occluded_keypoints_have_a_nearer_surface(scenes):
    occluded = on_background = 0
    for s in scenes:
        for kps, xyz in zip(s["keypoints"], s["keypoints3d"]):
            hidden = kps[:, 2] == 1
            u, v = pixel_of(kps[hidden]).T
            depth = s["depth"][v, u]
            covered = depth > 0
            assert np.all(depth[covered] < xyz[hidden, 2][covered])
            occluded += covered.sum()
            on_background += (~covered).sum()
    assert occluded > 10  # self- and mutual occlusion really happen
    assert on_background <= 0.05 * occluded  # sub-pixel limbs only, rarely


def test_keypoints_outside_the_image_are_unlabelled(scenes):
    for s in scenes:
        h, w = s["depth"].shape
        u, v = pixel_of(s["keypoints"]).transpose(2, 0, 1)
        inside = (u >= 0) & (u < w) & (v >= 0) & (v < h) & (s["keypoints3d"][..., 2] > 0)
        np.testing.assert_array_equal(s["keypoints"][..., 2] > 0, inside)


def test_intrinsics_project_3d_keypoints_onto_2d_keypoints(scenes):
    for s in scenes:
        projected = s["keypoints3d"] @ s["K"].T
        projected = projected[..., :2] / projected[..., 2:]
        labelled = s["keypoints"][..., 2] > 0
        np.testing.assert_allclose(projected[labelled], s["keypoints"][..., :2][labelled], atol=1e-3)


def test_keypoints_are_the_named_body_joints(scenes):
    coco = get_skeleton("coco17")
    for s in scenes:
        for name in ("left_shoulder", "right_knee", "left_wrist"):
            np.testing.assert_allclose(s["keypoints3d"][:, coco.index(name)], s["joints3d"][:, J[name]], atol=1e-6)


def test_normals_are_unit_and_face_the_camera(scenes):
    for s in scenes:
        person = s["depth"] > 0
        n = s["normals"][person]
        np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)
        v, u = np.nonzero(person)
        rays = render.pixel_rays(s["K"].astype(float), u, v)
        assert np.all(np.sum(n * rays, axis=1) < 0)


def test_normals_agree_with_depth_finite_differences_on_smooth_interiors(scenes):
    angles = []
    for s in scenes:
        depth, parts_map, K = s["depth"].astype(float), s["parts"], s["K"].astype(float)
        h, w = depth.shape
        v, u = np.mgrid[0:h, 0:w]
        points = depth[..., None] * render.pixel_rays(K, u, v)
        c = (slice(1, -1), slice(1, -1))
        same = np.ones((h - 2, w - 2), bool)  # the 3x3 neighbourhood is one part of one person
        for dv in (-1, 0, 1):
            for du in (-1, 0, 1):
                shifted = (slice(1 + dv, h - 1 + dv), slice(1 + du, w - 1 + du))
                same &= (parts_map[shifted] == parts_map[c]) & (s["instances"][shifted] == s["instances"][c])
        smooth = same & (parts_map[c] > 0)
        # no crease: the depth changes at a nearly constant rate across the pixel
        for axis in (0, 1):
            second = np.diff(depth, 2, axis=axis)[(slice(None), slice(1, -1))[::1 - 2 * axis]]
            smooth &= np.abs(second) < 0.002 * depth[c]
        tu = points[1:-1, 2:] - points[1:-1, :-2]
        tv = points[2:, 1:-1] - points[:-2, 1:-1]
        fd = np.cross(tu, tv)[smooth]
        fd /= np.linalg.norm(fd, axis=1, keepdims=True)
        fd *= -np.sign(np.sum(fd * points[c][smooth], 1))[:, None]  # towards the camera
        cos = np.clip(np.sum(fd * s["normals"][c][smooth], 1), -1, 1)
        angles.append(np.degrees(np.arccos(cos)))
    angles = np.concatenate(angles)
    assert len(angles) > 500
    assert np.median(angles) < 3.0 and np.percentile(angles, 90) < 10.0


def test_boxes_and_areas_are_tight_around_each_mask(scenes):
    for s in scenes:
        for ann_id, (x, y, bw, bh), area in zip(s["ids"], s["boxes"], s["areas"]):
            v, u = np.nonzero(s["instances"] == ann_id)
            assert area == len(u)
            expected = [u.min() - 0.5, v.min() - 0.5, u.max() + 0.5, v.max() + 0.5]
            np.testing.assert_allclose([x, y, x + bw, y + bh], expected)


def test_scenes_depend_only_on_seed_and_index(scenes):
    again = render_scene(5, 3, CONFIG)
    for key, value in scenes[3].items():
        np.testing.assert_array_equal(again[key], value, err_msg=key)
    other = render_scene(6, 3, CONFIG)
    assert not np.array_equal(other["image"], scenes[3]["image"])
    assert scenes[3]["image_id"] == 4 and np.all(scenes[3]["ids"] // 100 == 4)


def test_more_people_means_more_occlusion():
    crowd = SynthConfig(width=96, height=96, people=(6, 6), person_scale=(0.6, 0.9), mocap_dir=None)
    hidden = [render_scene(0, i, crowd)["keypoints"][..., 2] for i in range(3)]
    alone = SynthConfig(width=96, height=96, people=(1, 1), person_scale=(0.6, 0.9), mocap_dir=None)
    single = [render_scene(0, i, alone)["keypoints"][..., 2] for i in range(3)]
    share = lambda vs: np.mean(np.concatenate([v[v > 0] for v in vs]) == 1)  # noqa: E731
    assert share(hidden) > share(single)


def _render_person(yaw: float):
    """One person in the neutral pose, 3 m in front of the camera, turned by ``yaw``."""
    from posekit.synth import body
    from posekit.synth.rotations import axis_rotation
    from posekit.synth.scene import _keypoint_rays, _keypoints

    shape = body.BodyShape()
    pose = body.neutral_pose()
    pose[0] = axis_rotation("y", yaw)
    positions, frames = body.forward_kinematics(pose, body.rest_offsets(shape))
    prims, names = parts.dress(shape, parts.Outfit(hair="none"), positions, frames)
    to_camera = np.diag([1.0, -1.0, -1.0]), np.array([0.0, 0.3, 3.0])  # camera looks along world -z
    prims = prims.transformed(*to_camera)
    points = parts.body_points(shape, positions, frames) @ to_camera[0].T + to_camera[1]
    K = np.array([[200.0, 0, 63.5], [0, 200.0, 95.5], [0, 0, 1]])
    cast = render.raycast(prims, K, 128, 192)
    owner = np.where(cast.index >= 0, 0, -1)
    rays = _keypoint_rays(points[None], parts.host_table(names)[None], K, 128, 192)
    t_in, t_out = render.hull_depths(prims, rays.host, rays.dirs, rays.beyond)
    kps = _keypoints(rays, t_in, t_out, cast, owner)[0]
    return {name: kps[i, 2] for i, name in enumerate(parts.POINTS)}


def test_the_face_is_hidden_by_the_back_of_the_head():
    facing, away = _render_person(0.0), _render_person(np.pi)
    assert all(v == 2 for v in facing.values())  # standing in front of the camera, all is seen
    for name in ("nose", "left_eye", "right_eye"):
        assert away[name] == 1
    assert away["left_shoulder"] == 2 and away["right_hip"] == 2  # seen from behind: the body is visible


def test_profile_view_hides_the_far_side():
    side = _render_person(-np.pi / 2)  # the person's left side faces the camera
    assert side["left_ear"] == 2 and side["right_ear"] == 1
    assert side["left_shoulder"] == 2 and side["right_shoulder"] == 1
    assert side["left_hip"] == 2 and side["right_hip"] == 1
    assert all(side[name] in (1, 2) for name in JOINTS)


def test_a_scene_where_nobody_is_seen_has_consistent_empty_labels():
    far = SynthConfig(width=32, height=32, people=(2, 2), person_scale=(0.002, 0.003), mocap_dir=None)
    s = render_scene(0, 0, far)
    assert not s["instances"].any() and not s["depth"].any()
    assert s["keypoints"].shape == (0, 17, 3) and s["boxes"].shape == (0, 4)
    assert s["body_shape"].shape[0] == s["body_pose"].shape[0] == len(s["pose_source"]) == 0


def test_photo_backgrounds_come_from_the_folder(tmp_path):
    import cv2

    colour = (30, 200, 90)  # RGB
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"photo{i}.png"), np.full((60, 90, 3), colour[::-1], np.uint8))
    config = SynthConfig(width=64, height=64, people=(1, 1), mocap_dir=None, backgrounds_dir=str(tmp_path))
    matches = []
    for i in range(6):
        s = render_scene(0, i, config)
        background = s["image"][s["instances"] == 0].astype(float)
        matches.append(np.median(np.abs(background - colour)) < 12)
    assert 0 < sum(matches) < 6  # photos for some scenes, procedural backgrounds for others


@pytest.mark.parametrize("bad", [dict(people=(0, 2)), dict(people=(3, 2)), dict(person_scale=(0.0, 1.0)),
                                 dict(split="validation"), dict(keypoints="nope"), dict(random_pose_prob=2.0)])
def test_config_rejects_nonsense(bad):
    with pytest.raises((ValueError, KeyError)):
        SynthConfig(**bad)
