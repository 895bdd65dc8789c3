import gzip
from pathlib import Path

import numpy as np
import pytest

from posekit.synth import bvh
from posekit.synth.body import JOINTS, PARENTS, BodyShape, J, forward_kinematics, rest_offsets

DATA = Path(__file__).parents[2] / ".." / "shared" / "data"
BANDAI = DATA / "mocap" / "bandai_namco_1"
needs_bandai = pytest.mark.skipif(
    not (BANDAI / "data").is_dir(), reason=f"Bandai-Namco mocap not found at {BANDAI.resolve()}"
)

# Hips -> Chest -> Head (End Site), Chest -> Arm. Channel order Z X Y as in many BVH exports.
SMALL_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 5 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 2 0
      }
    }
    JOINT Arm
    {
      OFFSET 3 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 4 0 0
      }
    }
  }
}
MOTION
Frames: 3
Frame Time: 0.0333333
1 2 3 0 0 0  0 0 0  0 0 0  0 0 0
0 0 0 0 0 0  90 90 0  0 0 0  0 0 0
5 0 0 90 0 0  0 0 0  0 0 0  0 0 0
"""


def test_bvh_forward_kinematics_matches_hand_computed_positions():
    motion = bvh.parse_bvh(SMALL_BVH)
    assert motion.names == ("Hips", "Chest", "Head", "Arm") and motion.parents == (-1, 0, 1, 1)
    np.testing.assert_allclose(motion.end_sites[2], [0, 2, 0])
    positions, _ = motion.global_transforms()
    # frame 0: pure translation of the root
    np.testing.assert_allclose(positions[0], [[1, 2, 3], [1, 12, 3], [1, 17, 3], [4, 12, 3]], atol=1e-9)
    # frame 1: Chest rotates Rz(90) @ Rx(90) (channel order Z then X):
    #   Head = (0,10,0) + Rz Rx (0,5,0) = (0,10,0) + Rz (0,0,5) = (0,10,5)
    #   Arm  = (0,10,0) + Rz Rx (3,0,0) = (0,10,0) + Rz (3,0,0) = (0,13,0)
    np.testing.assert_allclose(positions[1], [[0, 0, 0], [0, 10, 0], [0, 10, 5], [0, 13, 0]], atol=1e-9)
    # frame 2: the root at (5,0,0) turned Rz(90) carries everything: (0,10,0) -> (-10,0,0)
    np.testing.assert_allclose(positions[2], [[5, 0, 0], [-5, 0, 0], [-10, 0, 0], [-5, 3, 0]], atol=1e-9)


def test_bvh_bone_axes_follow_children_then_end_sites():
    axes = bvh.parse_bvh(SMALL_BVH).bone_axes()
    np.testing.assert_allclose(axes, [[0, 1, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0]])


def test_read_bvh_reads_plain_and_gzipped_files(tmp_path):
    (tmp_path / "a.bvh").write_text(SMALL_BVH)
    with gzip.open(tmp_path / "a.bvh.gz", "wt") as f:
        f.write(SMALL_BVH)
    plain, packed = bvh.read_bvh(tmp_path / "a.bvh"), bvh.read_bvh(tmp_path / "a.bvh.gz")
    np.testing.assert_array_equal(plain.values, packed.values)
    assert plain.frame_time == pytest.approx(1 / 30, rel=1e-4)


def test_parse_bvh_rejects_truncated_motion():
    with pytest.raises(ValueError, match="values"):
        bvh.parse_bvh(SMALL_BVH.rsplit("\n", 2)[0])


@needs_bandai
def test_bandai_split_holds_out_whole_styles():
    all_clips = bvh.bandai_clips(BANDAI, "all")
    train, test = bvh.bandai_clips(BANDAI, "train"), bvh.bandai_clips(BANDAI, "test")
    on_disk = [p for p in (BANDAI / "data").iterdir() if p.name.endswith((".bvh", ".bvh.gz"))]
    assert len(all_clips) == len(on_disk) and sorted(train + test) == all_clips
    assert {bvh.clip_style(p) for p in test} == set(bvh.TEST_STYLES)
    assert not {bvh.clip_style(p) for p in train} & set(bvh.TEST_STYLES)


def _primary_bones():
    """(parent, first child) joint pairs of the body whose both ends are mapped to mocap joints."""
    bones = []
    for j, name in enumerate(JOINTS):
        children = [c for c, p in enumerate(PARENTS) if p == j]
        if name in bvh.BANDAI_MAP and children and JOINTS[children[0]] in bvh.BANDAI_MAP:
            bones.append((j, children[0]))
    return bones


@needs_bandai
@pytest.mark.parametrize("clip", ["dataset-1_walk_normal_001", "dataset-1_kick_normal_001"])
def test_retargeting_reproduces_mocap_bone_directions(clip):
    motion = bvh.read_bvh(BANDAI / "data" / f"{clip}.bvh.gz")
    mocap_pos, _ = motion.global_transforms()
    local = bvh.retarget(motion)
    offsets = np.broadcast_to(rest_offsets(BodyShape(height=1.9)), local.shape[:2] + (3,))
    positions, _ = forward_kinematics(local, offsets)
    bones = _primary_bones()
    assert len(bones) == 14
    for parent, child in bones:
        mocap_parent, mocap_child = (motion.names.index(bvh.BANDAI_MAP[JOINTS[j]][0]) for j in (parent, child))
        a = positions[:, child] - positions[:, parent]
        b = mocap_pos[:, mocap_child] - mocap_pos[:, mocap_parent]
        cos = np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        np.testing.assert_allclose(cos, 1.0, atol=1e-9, err_msg=f"{JOINTS[parent]}->{JOINTS[child]}")


@needs_bandai
def test_retargeted_library_stands_upright_facing_forward():
    library = bvh.load_bandai(BANDAI, "test", stride=10)
    assert len(library) > 100 and all(("tired" in c) or ("proud" in c) for c in library.clips)
    offsets = np.broadcast_to(rest_offsets(BodyShape()), (len(library), len(JOINTS), 3))
    positions, frames = forward_kinematics(library.rotations.astype(np.float64), offsets)
    up = positions[:, J["head"], 1] - positions[:, J["pelvis"], 1]
    assert np.median(up) > 0.4
    # the person's left (+x) holds the left joints, and the heading was removed (faces +z)
    assert np.mean(positions[:, J["left_hip"], 0] > positions[:, J["right_hip"], 0]) > 0.95
    np.testing.assert_allclose(frames[:, 0, 0, 2], 0.0, atol=1e-5)  # forward axis has no x component
    assert np.all(frames[:, 0, 2, 2] > 0)
