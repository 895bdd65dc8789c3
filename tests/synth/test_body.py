import numpy as np
import pytest
import torch

from posekit.skeletons import COCO17, LSP14, get_skeleton
from posekit.synth import body, parts
from posekit.synth.body import J, BodyShape, forward_kinematics, rest_offsets
from posekit.synth.rotations import axis_rotation, euler_zyx_to_matrix, matrix_to_euler_zyx


def test_forward_kinematics_matches_hand_computed_chain():
    # root at (1, 2, 3) turned 90 deg about z; joint 1 one unit along the root's x;
    # joint 2 one unit along joint 1's y, joint 1 itself turned 90 deg about x.
    rotations = np.stack([axis_rotation("z", np.pi / 2), axis_rotation("x", np.pi / 2), np.eye(3)])
    offsets = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    positions, frames = forward_kinematics(rotations, offsets, parents=(-1, 0, 1))
    # joint 1 = root + Rz(90) (1,0,0) = (1,3,3); joint 2 = joint 1 + Rz(90) Rx(90) (0,1,0) = (1,3,4)
    np.testing.assert_allclose(positions, [[1, 2, 3], [1, 3, 3], [1, 3, 4]], atol=1e-12)
    np.testing.assert_allclose(frames[2], axis_rotation("z", np.pi / 2) @ axis_rotation("x", np.pi / 2), atol=1e-12)


def test_forward_kinematics_is_batched_and_differentiable_in_torch():
    rng = np.random.default_rng(0)
    poses = np.stack([body.sample_pose(rng) for _ in range(4)])
    offsets = np.broadcast_to(rest_offsets(BodyShape()), (4, body.NUM_JOINTS, 3)).copy()
    expected, _ = forward_kinematics(poses, offsets)
    rot = torch.tensor(poses, requires_grad=True)
    positions, frames = forward_kinematics(rot, torch.tensor(offsets))
    np.testing.assert_allclose(positions.detach().numpy(), expected, atol=1e-12)
    positions[:, J["left_wrist"]].sum().backward()
    assert rot.grad is not None and rot.grad[:, J["left_elbow"]].abs().sum() > 0
    assert rot.grad[:, J["right_knee"]].abs().sum() == 0  # the wrist does not depend on the knee


@pytest.mark.parametrize("seed", range(4))
def test_rest_pose_is_as_tall_as_the_shape_says(seed):
    shape = BodyShape.sample(np.random.default_rng(seed))
    positions, frames = forward_kinematics(np.tile(np.eye(3), (body.NUM_JOINTS, 1, 1)), rest_offsets(shape))
    prims, _ = parts.dress(shape, parts.Outfit(hair="none"), positions, frames)
    lo, hi = prims.bounds()
    assert hi[:, 1].max() - lo[:, 1].min() == pytest.approx(shape.height, abs=2e-3)
    assert -lo[:, 1].min() == pytest.approx(body.pelvis_height(shape), abs=2e-3)


def test_shape_factors_change_the_right_bones():
    base = rest_offsets(BodyShape(height=1.7))
    long_legs = rest_offsets(BodyShape(height=1.7, legs=1.1))
    ratio = np.linalg.norm(long_legs, axis=1) / np.maximum(np.linalg.norm(base, axis=1), 1e-9)
    # same total height: longer legs mean a smaller overall scale for everything else
    assert ratio[J["left_knee"]] > 1.0 > ratio[J["chest"]]
    assert ratio[J["left_knee"]] == pytest.approx(ratio[J["right_ankle"]])


def test_sampled_poses_respect_joint_limits():
    rng = np.random.default_rng(1)
    poses = np.stack([body.sample_pose(rng, spread=1.0, uniform_prob=0.5) for _ in range(300)])
    angles = matrix_to_euler_zyx(poses)
    assert np.all(angles >= body.LIMITS[..., 0] - 1e-9)
    assert np.all(angles <= body.LIMITS[..., 1] + 1e-9)
    assert np.ptp(angles[:, J["left_knee"], 0]) > np.radians(60)  # the knee really bends


def test_clamp_to_limits_projects_into_the_limits_and_keeps_valid_poses():
    rng = np.random.default_rng(2)
    valid = body.sample_pose(rng)
    np.testing.assert_allclose(body.clamp_to_limits(valid), valid, atol=1e-9)
    bent_backwards = valid.copy()
    bent_backwards[J["left_knee"]] = axis_rotation("x", -np.radians(60))  # knees do not bend forwards
    clamped = matrix_to_euler_zyx(body.clamp_to_limits(bent_backwards))
    assert clamped[J["left_knee"], 0] == pytest.approx(0.0, abs=1e-9)


def test_right_limits_mirror_left_limits():
    mirror = np.diag([-1.0, 1.0, 1.0])
    rng = np.random.default_rng(3)
    for name in ("shoulder", "elbow", "hip", "knee", "ankle"):
        left, right = J["left_" + name], J["right_" + name]
        angles = rng.uniform(body.LIMITS[left, :, 0], body.LIMITS[left, :, 1])
        mirrored = matrix_to_euler_zyx(mirror @ euler_zyx_to_matrix(angles) @ mirror)
        assert np.all(mirrored >= body.LIMITS[right, :, 0] - 1e-9)
        assert np.all(mirrored <= body.LIMITS[right, :, 1] + 1e-9)


def test_synth_body_skeleton_is_registered_and_flips_onto_the_mirrored_body():
    skeleton = get_skeleton("synth_body")
    assert skeleton.num_keypoints == len(body.JOINTS) >= 22
    positions, _ = forward_kinematics(body.neutral_pose(), rest_offsets(BodyShape()))
    mirrored = positions * (-1.0, 1.0, 1.0)
    np.testing.assert_allclose(mirrored[skeleton.flip_index], positions, atol=1e-9)


def test_face_landmarks_sit_inside_the_head_where_a_face_has_them():
    shape = BodyShape(height=1.8, head=1.1)
    positions, frames = forward_kinematics(body.neutral_pose(), rest_offsets(shape))
    prims, names = parts.dress(shape, parts.Outfit(), positions, frames)
    face = parts.face_points(shape, positions[J["head"]], frames[J["head"]])
    for points, host in ((face[:1], "nose"), (face[1:], "head")):
        i = names.index(host)
        local = (points - prims.p0[i]) @ prims.axes[i] / prims.size[i]
        assert np.all(np.linalg.norm(local, axis=1) < 1.0)  # inside the host ellipsoid
    nose, left_eye, right_eye, left_ear, right_ear = face
    forward = frames[J["head"]][:, 2]
    assert (nose - positions[J["head"]]) @ forward > (left_ear - positions[J["head"]]) @ forward
    assert left_eye[0] > nose[0] > right_eye[0] and left_ear[0] > left_eye[0]  # +x is the person's left


@pytest.mark.parametrize("skeleton", [COCO17, LSP14])
def test_standard_keypoint_sets_are_points_of_the_body(skeleton):
    idx = parts.point_indices(skeleton.keypoints)
    assert [parts.POINTS[i] for i in idx] == list(skeleton.keypoints)
    table = parts.host_table(parts.dress(BodyShape(), parts.Outfit(), *forward_kinematics(
        body.neutral_pose(), rest_offsets(BodyShape())))[1])
    assert np.all(table[idx, 0] >= 0)  # every keypoint has a host primitive


def test_part_flip_swaps_left_and_right():
    flipped = [parts.PARTS[i] for i in parts.PART_FLIP]
    assert flipped[parts.PART_ID["left_hand"]] == "right_hand"
    assert flipped[parts.PART_ID["head"]] == "head"
    np.testing.assert_array_equal(parts.PART_FLIP[parts.PART_FLIP], np.arange(len(parts.PARTS)))
