"""Top-down inference: heatmaps resampled between crops of one image, and the multi-scale test built on it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.codecs.heatmap import MSRAHeatmap, UDPHeatmap
from posekit.data.transforms import apply_affine, box_to_centre_scale, crop_matrix, invert_affine
from posekit.inference.topdown import TopDownEstimator, check_scales, resample_heatmaps

BOX = np.array([40.0, 30.0, 60.0, 90.0])  # x, y, w, h image pixels


def _affines(codec, paddings) -> np.ndarray:
    w, h = codec.input_size
    out = []
    for padding in paddings:
        centre, scale = box_to_centre_scale(BOX, w / h, padding)
        out.append(crop_matrix(centre, scale, 0.0, (w, h)))
    return np.stack(out).astype(np.float32)


@pytest.mark.parametrize("codec", [UDPHeatmap((64, 96), (16, 24), 1.0), MSRAHeatmap((64, 96), (16, 24), 1.0,
                                                                                    unbiased=True, decoder="dark")])
def test_a_joint_seen_in_a_wider_crop_decodes_to_the_same_image_point_after_resampling(codec):
    point = np.array([[71.3, 88.6]])  # image pixels
    source, target = _affines(codec, [1.6]), _affines(codec, [1.25])
    heatmap = codec.encode(apply_affine(point, source[0]), np.ones(1))["heatmaps"]
    resampled = resample_heatmaps(torch.from_numpy(heatmap)[None], source, target, codec)
    coords, _ = codec.decode(resampled)
    back = apply_affine(coords.numpy().astype(np.float64), invert_affine(target))[0]
    assert np.abs(back - point).max() < 0.6  # pixels, against 26 px of box padding difference


def test_resampling_onto_its_own_crop_is_the_identity():
    codec = UDPHeatmap((64, 64), (16, 16), 1.0)
    heatmaps = torch.rand(2, 3, 16, 16)
    same = _affines(codec, [1.25, 1.25])
    assert torch.allclose(resample_heatmaps(heatmaps, same, same, codec), heatmaps, atol=1e-5)


class _BlobFinder(torch.nn.Module):
    """A stand-in network whose K heatmaps are the crop's red channel, bilinearly resized to the heatmap grid
    (pixel centres aligned as UDP maps them): it 'finds' a bright blob wherever the crop shows it."""

    def __init__(self, k: int, size: tuple[int, int]):
        super().__init__()
        self.k, self.size = k, size
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the estimator a device

    def forward(self, x):
        red = F.interpolate(x[:, :1], size=self.size[::-1], mode="bilinear", align_corners=True)
        return (red - red.amin((2, 3), keepdim=True)).repeat(1, self.k, 1, 1)


def test_multi_scale_test_keeps_a_found_joint_where_each_single_scale_finds_it():
    codec = UDPHeatmap((64, 64), (32, 32), 2.0)
    sidecar = {"skeleton": "lsp14", "codec": {"kind": "udp", "input_size": [64, 64], "heatmap_size": [32, 32],
                                              "sigma": 2.0}, "padding": 1.25}
    estimator = TopDownEstimator(_BlobFinder(14, codec.heatmap_size), sidecar)
    ys, xs = np.mgrid[0:160, 0:160]
    blob = (xs - 52.0) ** 2 + (ys - 106.0) ** 2
    image = np.zeros((160, 160, 3), np.uint8)
    image[..., 0] = np.clip(255 * np.exp(-blob / (2 * 5.0 ** 2)), 0, 255).astype(np.uint8)
    for scales in [(1.0,), (1.0, 0.8, 1.3)]:
        for flip in (False, True):
            kps, scores = estimator(image, [BOX], flip=flip, scales=scales)
            assert kps.shape == (1, 14, 2) and scores.shape == (1, 14)
            assert np.abs(kps[0] - [52.0, 106.0]).max() < 1.5, (scales, flip)


@pytest.mark.parametrize("scales", [(), (1.0, 0.0), (1.0, -0.5), (float("nan"),)])
def test_bad_test_scales_are_refused(scales):
    with pytest.raises(ValueError, match="test scales must be positive numbers"):
        check_scales(scales)
