"""Temporal smoothing of keypoint tracks: the One Euro filter (Casiez, Roussel & Vogel, CHI 2012).

A first-order low-pass filter whose cutoff rises with the signal's speed: at rest it removes
jitter (cutoff ``min_cutoff``), in fast motion it follows with little lag (cutoff grows by
``beta`` per unit of speed). Per element of an array, so one filter smooths a whole (K, 2)
keypoint set.
"""
from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """Smoothing factor of an exponential filter with this cutoff (Hz) at time step dt (s)."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """x_hat_t = a * x_t + (1 - a) * x_hat_(t-1), with a from the cutoff min_cutoff + beta * |dx_hat/dt|.

    Units follow the signal: for keypoints in pixels, ``beta`` is per (pixel/s); cutoffs are in Hz.
    ``filter(x, dt)`` takes an array (any shape, the same every call) and the seconds since the last call.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One Euro filter needs min_cutoff > 0, d_cutoff > 0, beta >= 0; got "
                             f"{min_cutoff}, {d_cutoff}, {beta}")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next sample passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def filter(self, x: np.ndarray, dt: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        if dt <= 0:
            raise ValueError(f"time step must be > 0 s, got {dt}")
        if x.shape != self._x.shape:
            raise ValueError(f"signal shape changed from {self._x.shape} to {x.shape}; reset() first")
        self._dx = self._dx + _alpha(self.d_cutoff, dt) * ((x - self._x) / dt - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        return self._x.copy()
