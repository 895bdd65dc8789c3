import numpy as np
import pytest
import torch

from posekit.codecs.heatmap import BeliefMapCodec, MSRAHeatmap, UDPHeatmap, build_codec, codec_to_dict, flip_back, flip_test
from posekit.skeletons import LSP14


def _round_trip_error(codec, n=500, seed=0, margin=0.5):
    """Max |decoded - true| in heatmap pixels for random sub-pixel keypoints."""
    rng = np.random.default_rng(seed)
    w, h = codec.heatmap_size
    hm_xy = rng.uniform([margin, margin], [w - 1 - margin, h - 1 - margin], (n, 2))
    kps = hm_xy / codec.to_heatmap(np.ones(2))
    t = codec.encode(kps, np.ones(n))
    assert t["heatmaps"].shape == (n, h, w) and t["weights"].all()
    decoded, scores = codec.decode(torch.from_numpy(t["heatmaps"])[None].double())
    return np.abs(codec.to_heatmap(decoded[0].numpy()) - hm_xy).max(), scores


@pytest.mark.parametrize("codec", [
    UDPHeatmap((192, 256), (48, 64), 2.0),
    UDPHeatmap((128, 128), (32, 32), 1.5),
    MSRAHeatmap((192, 256), (48, 64), 2.0, unbiased=True, decoder="dark"),
])
def test_encode_decode_round_trip_subpixel(codec):
    err, scores = _round_trip_error(codec)
    assert err < 0.05
    assert torch.all(scores > 0.8)


def test_quarter_offset_error_is_within_documented_bound():
    # integer-rounded Gaussian centres + a quarter step: at most half a pixel per axis
    err, _ = _round_trip_error(MSRAHeatmap((192, 256), (48, 64), 2.0), margin=1.0)
    assert 0.25 < err <= 0.5 + 1e-6


def test_dark_beats_quarter_offset_on_unbiased_maps():
    quarter, _ = _round_trip_error(MSRAHeatmap(unbiased=True, decoder="quarter"))
    dark, _ = _round_trip_error(MSRAHeatmap(unbiased=True, decoder="dark"))
    assert dark < quarter / 10


def test_invisible_and_outside_keypoints_get_zero_weight_and_empty_maps():
    codec = UDPHeatmap((64, 64), (16, 16), 1.0)
    kps = np.array([[10.0, 10.0], [20.0, 20.0], [-30.0, 5.0]])
    t = codec.encode(kps, np.array([1, 0, 1]))
    assert t["weights"].tolist() == [1, 0, 0]
    assert t["heatmaps"][1].max() == 0 and t["heatmaps"][2].max() == 0
    assert t["heatmaps"][0].max() > 0.5


def test_belief_maps_add_a_background_channel():
    codec = BeliefMapCodec((64, 64), (16, 16), 1.0)
    t = codec.encode(np.array([[20.0, 20.0], [40.0, 44.0]]), np.ones(2))
    assert t["heatmaps"].shape == (3, 16, 16) and t["weights"].tolist() == [1, 1, 1]
    np.testing.assert_allclose(t["heatmaps"][2], 1 - t["heatmaps"][:2].max(0), atol=1e-6)
    kps, _ = codec.decode(torch.from_numpy(t["heatmaps"])[None])
    np.testing.assert_allclose(kps[0].numpy(), [[20, 20], [40, 44]], atol=0.2)


def test_flip_fusion_of_a_mirror_symmetric_case_is_exact():
    # a pose symmetric about the vertical axis: keypoint i at x, its flip partner at (W-1) - x
    codec = UDPHeatmap((96, 96), (24, 24), 1.5)
    rng = np.random.default_rng(1)
    kps = np.zeros((14, 2))
    for a, b in LSP14.flip_pairs:
        x, y = rng.uniform(5, 40), rng.uniform(5, 90)
        kps[a], kps[b] = (x, y), (95 - x, y)
    kps[12], kps[13] = (47.5, 30.0), (47.5, 10.0)
    maps = torch.from_numpy(codec.encode(kps, np.ones(14))["heatmaps"]).double()[None]

    def ideal_network(images):  # a mirror-symmetric image: both passes see the same picture, the same maps
        return maps.expand(len(images), -1, -1, -1)

    image = torch.rand(1, 3, 96, 48).double()
    symmetric_image = torch.cat([image, image.flip(-1)], -1)
    fused = flip_test(ideal_network, symmetric_image, LSP14.flip_index)
    assert torch.allclose(fused, maps, atol=1e-6, rtol=0)  # float32 targets: equal up to rounding
    fused_kps, _ = codec.decode(fused)
    np.testing.assert_allclose(fused_kps[0].numpy(), kps, atol=1e-4)


def test_flip_back_undoes_a_flip_with_channel_swap():
    maps = torch.rand(2, 14, 8, 6)
    flipped = maps.flip(-1)[:, torch.as_tensor(LSP14.flip_index)]
    assert torch.equal(flip_back(flipped, LSP14.flip_index), maps)


def test_batched_decode_matches_per_instance_decode():
    codec = UDPHeatmap((192, 256), (48, 64), 2.0)
    maps = torch.rand(4, 17, 64, 48) ** 4
    batch, _ = codec.decode(maps)
    single = torch.cat([codec.decode(maps[i:i + 1])[0] for i in range(4)])
    assert torch.allclose(batch, single)


def test_codec_dict_round_trip_and_unknown_kind():
    codec = MSRAHeatmap((96, 128), (24, 32), 1.5, unbiased=True, decoder="dark")
    assert build_codec(**codec_to_dict(codec)) == codec
    with pytest.raises(ValueError, match="unknown codec"):
        build_codec("gaussian")
