"""Rotation helpers shared by the body model and the BVH reader (numpy, batched).

All matrices act on column vectors (``v_parent = R @ v_local``). Angles are in
radians unless a name says ``_deg``.
"""
from __future__ import annotations

import numpy as np


def axis_rotation(axis: str, angle) -> np.ndarray:
    """Rotation about the x, y or z axis: angle (...,) -> (..., 3, 3)."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    k = "xyz".index(axis.lower())
    i, j = (k + 1) % 3, (k + 2) % 3  # the rotation turns axis i towards axis j
    out = np.zeros(angle.shape + (3, 3))
    out[..., k, k] = 1.0
    out[..., i, i] = out[..., j, j] = c
    out[..., i, j], out[..., j, i] = -s, s
    return out


def euler_zyx_to_matrix(angles) -> np.ndarray:
    """``R = Rz(c) @ Ry(b) @ Rx(a)`` for angles (..., 3) = (a, b, c) -> (..., 3, 3)."""
    angles = np.asarray(angles, dtype=np.float64)
    return (
        axis_rotation("z", angles[..., 2])
        @ axis_rotation("y", angles[..., 1])
        @ axis_rotation("x", angles[..., 0])
    )


def matrix_to_euler_zyx(rot) -> np.ndarray:
    """Inverse of :func:`euler_zyx_to_matrix`: (..., 3, 3) -> (..., 3) with b in [-pi/2, pi/2]."""
    rot = np.asarray(rot, dtype=np.float64)
    b = np.arcsin(np.clip(-rot[..., 2, 0], -1.0, 1.0))
    a = np.arctan2(rot[..., 2, 1], rot[..., 2, 2])
    c = np.arctan2(rot[..., 1, 0], rot[..., 0, 0])
    return np.stack([a, b, c], axis=-1)


def frame_from_two_axes(primary, secondary) -> np.ndarray:
    """Orthonormal frame (..., 3, 3) whose columns are: ``primary`` normalised,
    ``secondary`` made orthogonal to it, and their cross product."""
    u = np.asarray(primary, dtype=np.float64)
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    w = np.asarray(secondary, dtype=np.float64)
    w = w - np.sum(w * u, axis=-1, keepdims=True) * u
    w = w / np.linalg.norm(w, axis=-1, keepdims=True)
    return np.stack([u, w, np.cross(u, w)], axis=-1)


def yaw_of(rot) -> np.ndarray:
    """Heading angle (...,) about +y of the frame's forward (+z) axis."""
    forward = np.asarray(rot)[..., :, 2]
    return np.arctan2(forward[..., 0], forward[..., 2])
