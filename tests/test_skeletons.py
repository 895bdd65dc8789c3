import numpy as np
import pytest

from posekit.skeletons import SKELETONS, get_skeleton, skeleton_from_category


@pytest.mark.parametrize("name", ["coco17", "lsp14", "coco_wholebody133"])
def test_flip_index_is_an_involution(name):
    s = get_skeleton(name)
    assert np.array_equal(s.flip_index[s.flip_index], np.arange(s.num_keypoints))


@pytest.mark.parametrize("name", ["coco17", "lsp14", "coco_wholebody133"])
def test_flip_pairs_map_left_names_to_right_names(name):
    s = get_skeleton(name)
    for i, n in enumerate(s.keypoints):
        j = s.flip_index[i]
        if n.startswith("left_"):
            assert s.keypoints[j] == "right_" + n[5:]
        elif n.startswith("right_"):
            assert s.keypoints[j] == "left_" + n[6:]


def test_wholebody_face_mirror_pairs_cover_the_jaw_and_eyes():
    s = get_skeleton("coco_wholebody133")
    face0 = s.index("face_0")
    assert s.flip_index[face0] == s.index("face_16")
    assert s.flip_index[s.index("face_8")] == s.index("face_8")  # chin is on the axis
    assert s.flip_index[s.index("face_36")] == s.index("face_45")  # outer eye corners


def test_sizes_sigmas_and_links_are_consistent():
    assert [SKELETONS[n].num_keypoints for n in ("coco17", "lsp14", "coco_wholebody133")] == [17, 14, 133]
    for s in SKELETONS.values():
        assert len(s.sigmas) == s.num_keypoints and all(0 < v < 0.2 for v in s.sigmas)
        assert all(0 <= a < s.num_keypoints and 0 <= b < s.num_keypoints for a, b in s.links)


def test_category_round_trip_and_unknown_names():
    s = get_skeleton("lsp14")
    cat = s.to_coco_category()
    del cat["posekit_skeleton"]
    assert skeleton_from_category(cat) is s
    with pytest.raises(KeyError, match="match no known skeleton"):
        skeleton_from_category({"name": "person", "keypoints": ["a", "b"]})
    with pytest.raises(KeyError, match="unknown skeleton"):
        get_skeleton("coco18")


def test_synth_body_skeleton_resolves_without_importing_synth_first():
    import subprocess
    import sys

    code = ("from posekit.skeletons import get_skeleton, skeleton_from_category; s = get_skeleton('synth_body'); "
            "assert skeleton_from_category(s.to_coco_category()) is s; print(s.num_keypoints)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 22
