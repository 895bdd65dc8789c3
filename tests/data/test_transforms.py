import cv2
import numpy as np
import pytest

from posekit.data.transforms import (apply_affine, box_to_centre_scale, crop_matrix, crop_rgb_planes,
                                     erase_rectangle, invert_affine, warp_image)


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


def test_crop_rgb_planes_without_colour_equals_warp_and_channel_swap():
    bgr = np.random.default_rng(0).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    np.testing.assert_array_equal(crop_rgb_planes(bgr, identity, (90, 120)), bgr[:, :, ::-1].transpose(2, 0, 1))
    # rotated, scaled, flipped and reaching past the border: same pixels as the 3-channel warp of the whole image
    m = crop_matrix([50.0, 70.0], [80.0, 100.0], 25.0, (48, 64), flip=True)
    expected = warp_image(bgr, m, (48, 64))[:, :, ::-1].transpose(2, 0, 1).astype(int)
    assert np.abs(crop_rgb_planes(bgr, m, (48, 64)).astype(int) - expected).max() <= 1


def test_crop_rgb_planes_outside_the_image_is_black():
    bgr = np.full((20, 20, 3), 200, np.uint8)
    m = crop_matrix([500.0, 500.0], [10.0, 10.0], 0.0, (8, 8))
    assert not crop_rgb_planes(bgr, m, (8, 8)).any()


def test_colour_jitter_matches_its_formula():
    bgr = np.random.default_rng(1).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    identity = np.array([[1, 0, 0], [0, 1, 0]], np.float32)
    out = crop_rgb_planes(bgr, identity, (30, 40), 0.4, np.random.default_rng(7)).transpose(1, 2, 0).astype(np.float64)
    b, c, s = np.random.default_rng(7).uniform(0.6, 1.4, 3)
    rgb = bgr[:, :, ::-1].astype(np.float64)
    grey = (rgb @ [0.299, 0.587, 0.114])[..., None]
    expected = np.clip(b * (c * (s * rgb + (1 - s) * grey) + (1 - c) * grey.mean()), 0, 255)
    assert np.abs(out - expected).max() <= 1.0  # uint8 rounding (cv2.transform works in fixed point)
    # the draws are used: another seed gives other colours
    other = crop_rgb_planes(bgr, identity, (30, 40), 0.4, np.random.default_rng(8)).transpose(1, 2, 0)
    assert np.abs(other - out).max() > 5


def test_erase_rectangle_area_aspect_and_placement_stay_in_bounds():
    rng = np.random.default_rng(0)
    areas, aspects = [], []
    for _ in range(300):
        planes = np.zeros((3, 40, 60), np.uint8)
        x, y, w, h = erase_rectangle(planes, rng, max_area=0.25)
        assert 0 <= x and x + w <= 60 and 0 <= y and y + h <= 40
        outside = planes.copy()
        outside[:, y:y + h, x:x + w] = 0
        assert not outside.any()  # nothing painted outside the returned rectangle
        areas.append(w * h / (40 * 60))
        aspects.append(h / w)
    assert 0.015 <= min(areas) and max(areas) <= 0.27
    assert np.median(aspects) == pytest.approx(1.0, abs=0.35)  # log-uniform about 1
    assert min(aspects) < 0.5 and max(aspects) > 2.0
