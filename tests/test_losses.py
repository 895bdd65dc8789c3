"""Tests for the losses: each equals the formula in its docstring on hand-made cases."""
import pytest
import torch

from posekit.losses import cpm_loss, cpn_loss, keypoint_mse, ohkm_mse, ohkm_top_k


def constant_error_maps(errors: torch.Tensor, h: int = 3, w: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,K) -> pred, target (B,K,h,w) whose per-keypoint mean squared error is exactly ``errors``."""
    target = torch.rand(*errors.shape, h, w, dtype=torch.float64)
    return target + errors.sqrt()[..., None, None], target


def test_keypoint_mse_is_the_weighted_mean_over_batch_and_keypoints():
    pred, target = constant_error_maps(torch.tensor([[1.0, 4.0], [9.0, 16.0]], dtype=torch.float64))
    weights = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    assert keypoint_mse(pred, target, weights).item() == pytest.approx((1 + 9 + 16) / 4)


def test_cpm_loss_sums_squared_errors_over_maps_pixels_and_stages_per_sample():
    target = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]],
                           [[[0.5, 0.5]], [[0.0, 0.0]]]])  # B=2, P+1=2 maps, 1x2 pixels
    stage1 = torch.zeros_like(target)
    stage2 = target.clone()
    stage2[0, 0, 0, 0] = 3.0
    weights = torch.ones(2, 2)
    # f_1 = sum of target^2 = (1 + 1) + (0.25 + 0.25); f_2 = 3^2; F = (f_1 + f_2) / B
    assert cpm_loss([stage1, stage2], target, weights).item() == pytest.approx((2.5 + 9) / 2)
    weights[0, 0] = 0  # an unlabelled part contributes nothing, at any stage
    assert cpm_loss([stage1, stage2], target, weights).item() == pytest.approx((1 + 0.5) / 2)


def test_cpm_loss_does_not_depend_on_batch_size_for_equal_samples():
    target, pred = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    one = cpm_loss([pred], target, torch.ones(1, 3))
    four = cpm_loss([pred.expand(4, -1, -1, -1)], target.expand(4, -1, -1, -1), torch.ones(4, 3))
    assert four.item() == pytest.approx(one.item())


def test_ohkm_takes_the_top_m_hardest_labelled_keypoints_per_instance():
    # powers of two: every subset has its own sum, so the value identifies the chosen set
    errors = torch.tensor([[1.0, 32.0, 4.0, 2.0, 16.0, 8.0],
                           [8.0, 1.0, 2.0, 32.0, 4.0, 16.0]], dtype=torch.float64)
    pred, target = constant_error_maps(errors)
    weights = torch.ones(2, 6, dtype=torch.float64)
    weights[0, 1] = 0  # the hardest keypoint of instance 0 is unlabelled: never chosen
    # M = 3: instance 0 -> 16, 8, 4; instance 1 -> 32, 16, 8
    loss = ohkm_mse(pred, target, weights, top_k=3)
    assert loss.item() == pytest.approx(((16 + 8 + 4) + (32 + 16 + 8)) / (2 * 3))
    pred.requires_grad_(True)
    ohkm_mse(pred, target, weights, top_k=3).backward()
    got_gradient = pred.grad.flatten(2).abs().sum(-1) > 0
    assert got_gradient.tolist() == [[False, False, True, False, True, True],
                                     [True, False, False, True, False, True]]


def test_ohkm_never_chooses_unlabelled_keypoints_even_when_too_few_are_labelled():
    pred, target = constant_error_maps(torch.tensor([[5.0, 100.0, 7.0, 100.0]], dtype=torch.float64))
    weights = torch.tensor([[1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    assert ohkm_mse(pred, target, weights, top_k=3).item() == pytest.approx((5 + 7) / 3)
    assert ohkm_mse(pred, target, torch.zeros_like(weights), top_k=2).item() == 0


def test_ohkm_over_all_keypoints_is_the_plain_mse():
    pred, target = torch.rand(2, 5, 4, 4), torch.rand(2, 5, 4, 4)
    weights = torch.ones(2, 5)
    torch.testing.assert_close(ohkm_mse(pred, target, weights, top_k=5), keypoint_mse(pred, target, weights))


def test_ohkm_default_scales_8_of_17_to_the_skeleton():
    assert [ohkm_top_k(k) for k in (17, 14, 16, 133, 1)] == [8, 7, 8, 63, 1]
    with pytest.raises(ValueError, match="top_k"):
        ohkm_mse(torch.zeros(1, 4, 2, 2), torch.zeros(1, 4, 2, 2), torch.ones(1, 4), top_k=5)


def test_cpn_loss_is_l2_on_every_global_output_plus_ohkm_on_the_refined_one():
    target, weights = torch.rand(2, 6, 4, 4), torch.ones(2, 6)
    outputs = [torch.rand(2, 6, 4, 4) for _ in range(5)]
    expected = sum(keypoint_mse(g, target, weights) for g in outputs[:4]) + ohkm_mse(outputs[4], target, weights, 2)
    torch.testing.assert_close(cpn_loss(outputs, target, weights, top_k=2), expected)
    default = sum(keypoint_mse(g, target, weights) for g in outputs[:4]) + ohkm_mse(outputs[4], target, weights, 3)
    torch.testing.assert_close(cpn_loss(outputs, target, weights), default)  # M = round(6 * 8 / 17) = 3


def test_lr_latent_mse_takes_the_better_reading_of_each_label():
    from posekit.losses import keypoint_mse, keypoint_mse_lr_latent

    flip = [1, 0, 2]  # keypoints 0 and 1 are a left/right pair
    target = torch.zeros(2, 3, 4, 4)
    target[:, 0, 1, 1] = 1.0  # "left" peak
    target[:, 1, 2, 2] = 1.0  # "right" peak
    target[:, 2, 3, 0] = 1.0
    weights = torch.ones(2, 3)
    pred = target.clone()
    pred[1] = target[1, flip]  # instance 1 predicts the sides the other way round
    assert keypoint_mse_lr_latent(pred, target, weights, flip) == 0
    assert keypoint_mse(pred, target, weights) > 0
    # a prediction wrong in both readings: the loss is the smaller of the two, per instance
    pred = torch.zeros_like(target)
    pred[:, 0, 1, 1] = 0.5
    as_given = keypoint_mse(pred[:1], target[:1], weights[:1])
    swapped = keypoint_mse(pred[:1], target[:1, flip], weights[:1])
    assert torch.isclose(keypoint_mse_lr_latent(pred[:1], target[:1], weights[:1], flip), torch.minimum(as_given, swapped))
    assert as_given < swapped
