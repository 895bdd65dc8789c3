"""The One Euro filter: known values of its exponential core, the speed-adaptive cutoff, and its errors."""
import math

import numpy as np
import pytest

from posekit.inference.smoothing import OneEuroFilter


def test_first_sample_passes_and_a_still_signal_stays_put():
    f = OneEuroFilter()
    x = np.array([[3.0, 4.0], [10.0, -2.0]])
    assert np.array_equal(f.filter(x, 0.1), x)
    for _ in range(5):
        assert np.allclose(f.filter(x, 0.1), x)


def test_without_beta_a_step_moves_by_the_exponential_filters_factor():
    """beta = 0: x_hat = a x + (1 - a) x_hat_prev, a = 2 pi fc dt / (1 + 2 pi fc dt)."""
    fc, dt = 1.5, 1 / 30
    f = OneEuroFilter(min_cutoff=fc, beta=0.0)
    f.filter(np.zeros(1), dt)
    a = 2 * math.pi * fc * dt / (1 + 2 * math.pi * fc * dt)
    assert f.filter(np.ones(1), dt)[0] == pytest.approx(a)
    assert f.filter(np.ones(1), dt)[0] == pytest.approx(a + (1 - a) * a)


def test_beta_cuts_the_lag_on_fast_motion_and_the_filter_cuts_noise_at_rest():
    dt, steps = 1 / 30, 30
    ramp = np.arange(steps) * 10.0  # 300 px/s
    lags = []
    for beta in (0.0, 0.05):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        out = [f.filter(np.array([x]), dt)[0] for x in ramp]
        lags.append(ramp[-1] - out[-1])
    assert lags[1] < 0.3 * lags[0]
    noise = np.random.default_rng(0).normal(0, 3.0, (steps * 4, 2))
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    smoothed = np.stack([f.filter(x, dt) for x in noise])
    assert smoothed[30:].std() < 0.5 * noise[30:].std()


def test_bad_settings_and_inputs_are_refused():
    with pytest.raises(ValueError, match="min_cutoff > 0"):
        OneEuroFilter(min_cutoff=0)
    f = OneEuroFilter()
    f.filter(np.zeros(2), 0.1)
    with pytest.raises(ValueError, match="time step must be > 0"):
        f.filter(np.zeros(2), 0.0)
    with pytest.raises(ValueError, match=r"shape changed from \(2,\) to \(3,\)"):
        f.filter(np.zeros(3), 0.1)
    f.reset()
    assert np.array_equal(f.filter(np.ones(3), 0.1), np.ones(3))
