import cv2
import numpy as np
import pytest

from posekit.data.transforms import (apply_affine, bgr_to_rgb_planes, box_to_centre_scale, colour_jitter, crop_matrix,
                                     invert_affine, warp_image)


def test_box_to_centre_scale_fixes_aspect_and_pads():
    centre, scale = box_to_centre_scale([10, 20, 30, 100], aspect_ratio=0.75, padding=1.25)
    np.testing.assert_allclose(centre, [25, 70])
    np.testing.assert_allclose(scale, [75 * 1.25, 100 * 1.25])
    _, wide = box_to_centre_scale([0, 0, 200, 50], aspect_ratio=0.75, padding=1.0)
    np.testing.assert_allclose(wide, [200, 200 / 0.75])


def test_crop_matrix_maps_centre_to_crop_centre_and_box_width_to_w_minus_1():
    m = crop_matrix([50.0, 60.0], [40.0, 80.0], 0.0, (48, 96))
    np.testing.assert_allclose(apply_affine(np.array([[50.0, 60.0]]), m), [[23.5, 47.5]], atol=1e-5)
    ends = apply_affine(np.array([[30.0, 60.0], [70.0, 60.0]]), m)
    np.testing.assert_allclose(ends[:, 0], [0.0, 47.0], atol=1e-5)


@pytest.mark.parametrize("rotation,flip", [(0, False), (33, False), (-70, True)])
def test_inverse_affine_round_trip(rotation, flip):
    m = crop_matrix([120.0, 80.0], [90.0, 120.0], rotation, (96, 128), flip)
    pts = np.random.default_rng(0).uniform(0, 200, (20, 2))
    back = apply_affine(apply_affine(pts, m), invert_affine(m))
    np.testing.assert_allclose(back, pts, atol=1e-3)


def test_flip_mirrors_crop_coordinates_about_w_minus_1():
    plain = crop_matrix([50.0, 50.0], [64.0, 64.0], 0.0, (64, 64))
    flipped = crop_matrix([50.0, 50.0], [64.0, 64.0], 0.0, (64, 64), flip=True)
    pts = np.array([[40.0, 45.0], [61.5, 52.0]])
    a, b = apply_affine(pts, plain), apply_affine(pts, flipped)
    np.testing.assert_allclose(b[:, 0], 63 - a[:, 0], atol=1e-5)
    np.testing.assert_allclose(b[:, 1], a[:, 1], atol=1e-5)


@pytest.mark.parametrize("rotation,flip", [(0, False), (25, True)])
def test_warped_image_content_lands_where_the_affine_sends_its_points(rotation, flip):
    img = np.zeros((200, 240, 3), np.uint8)
    spot = np.array([151.3, 88.6])
    yy, xx = np.mgrid[0:200, 0:240]
    img[..., 0] = (255 * np.exp(-((xx - spot[0]) ** 2 + (yy - spot[1]) ** 2) / (2 * 3.0**2))).astype(np.uint8)
    m = crop_matrix([140.0, 100.0], [100.0, 100.0], rotation, (128, 128), flip)
    crop = warp_image(img, m, (128, 128))[..., 0].astype(float)
    ys, xs = np.mgrid[0:128, 0:128]
    centroid = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
    np.testing.assert_allclose(centroid, apply_affine(spot[None], m)[0], atol=0.05)


@pytest.mark.parametrize("downscale", [1.0, 2.5, 4.0, 9.0])
def test_reduced_decoding_keeps_content_where_the_affine_sends_it(tmp_path, downscale):
    from posekit.data.topdown import read_reduced

    yy, xx = np.mgrid[0:800, 0:960]
    spot = np.array([613.0, 402.0])
    img = np.zeros((800, 960, 3), np.uint8)
    img[..., 1] = (255 * np.exp(-((xx - spot[0]) ** 2 + (yy - spot[1]) ** 2) / (2 * 8.0**2))).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "big.png"), img)
    size = 64 * downscale
    m = crop_matrix([608.0, 398.0], [size, size], 0.0, (64, 64))  # the spot stays well inside every crop
    image, reduction = read_reduced(tmp_path / "big.png", downscale)
    assert image.shape[0] == int(np.ceil(800 / reduction[0, 0]))
    crop = warp_image(image, m @ reduction, (64, 64))[..., 1].astype(float)
    ys, xs = np.mgrid[0:64, 0:64]
    centroid = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
    np.testing.assert_allclose(centroid, apply_affine(spot[None], m)[0], atol=0.15)


def test_bgr_to_rgb_planes_equals_channel_swap_and_transpose():
    bgr = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    np.testing.assert_array_equal(bgr_to_rgb_planes(bgr), bgr[:, :, ::-1].transpose(2, 0, 1))


def test_colour_jitter_matches_its_formula():
    rng_image = np.random.default_rng(1)
    bgr = rng_image.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    out = colour_jitter(bgr, 0.4, np.random.default_rng(7)).astype(np.float64)
    b, c, s = np.random.default_rng(7).uniform(0.6, 1.4, 3)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float64)[..., None]
    expected = np.clip(b * (c * (s * bgr + (1 - s) * grey) + (1 - c) * grey.mean()), 0, 255)
    assert np.abs(out - expected).max() <= 1.0  # uint8 rounding
    assert colour_jitter(bgr, 0.0, np.random.default_rng(3)).tolist() == bgr.tolist()
