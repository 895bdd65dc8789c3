"""Analytic ray casting with a z-buffer (vectorised numpy).

Primitives live in camera coordinates (x right, y down, z forward, metres); rays
leave the camera centre through pixel centres, which sit at integer coordinates.
A ray is written ``d = ((u - cx) / fx, (v - cy) / fy, 1)``, so the ray parameter
``t`` of a hit *is* its depth along the camera z axis.

Each primitive is tested only against the pixels inside its projected bound: all
(pixel, primitive) pairs are made at once, intersected per primitive kind in
closed form, and the nearest hit per pixel wins.

Kinds:
    CAPSULE: segment ``p0``-``p1`` swept by a sphere of ``radius``.
    ELLIPSOID: centre ``p0``, semi-axes ``size`` along the columns of ``axes``.
    ROUNDED_BOX: centre ``p0``, half extents ``size`` along ``axes``, grown by ``radius``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

CAPSULE, ELLIPSOID, ROUNDED_BOX = 0, 1, 2
NEAR = 0.05  # metres; surfaces closer to the camera are not rendered


@dataclass
class Primitives:
    """Analytic solids as a struct of arrays (n primitives).

    ``kind`` (n,) int8; ``p0``, ``p1`` (n, 3); ``axes`` (n, 3, 3) local axes as columns;
    ``size`` (n, 3); ``radius`` (n,). Labels carried along: ``part`` (n,) uint8,
    ``owner`` (n,) int32 (person index), ``material`` (n,) int8.
    """

    kind: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    axes: np.ndarray
    size: np.ndarray
    radius: np.ndarray
    part: np.ndarray
    owner: np.ndarray
    material: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def concatenate(cls, items: list["Primitives"]) -> "Primitives":
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in items]) for f in fields(cls)})

    def take(self, idx) -> "Primitives":
        """A subset (index array or slice)."""
        return Primitives(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> "Primitives":
        """The same solids after ``x -> rotation @ x + translation``."""
        return Primitives(
            self.kind, self.p0 @ rotation.T + translation, self.p1 @ rotation.T + translation,
            rotation @ self.axes, self.size, self.radius, self.part, self.owner, self.material,
        )

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Tight axis-aligned bounding boxes: lo (n, 3), hi (n, 3)."""
        scaled = self.axes * self.size[:, None, :]  # columns: the semi-axes
        kind, radius = self.kind[:, None], self.radius[:, None]
        half = np.where(kind == CAPSULE, radius, np.where(kind == ELLIPSOID, np.sqrt(np.sum(scaled ** 2, axis=2)),
                                                          np.sum(np.abs(scaled), axis=2) + radius))
        lo = np.minimum(self.p0, self.p1) - half
        hi = np.maximum(self.p0, self.p1) + half
        return lo, hi


def _first_root(a, b, c):
    """Smaller root of ``a t^2 + 2 b t + c = 0`` where real and positive, else inf (under
    ``np.errstate(invalid="ignore", divide="ignore")``, as in :func:`_intersect_grouped`)."""
    t = (-b - np.sqrt(b * b - a * c)) / a  # nan where the roots are complex: fails t > 0
    return np.where((t > 0) & (a > 1e-14), t, np.inf)


# Intersections run on coefficient tables: one row per quantity, one column per
# primitive, repeated per ray with ``np.repeat`` (rays come grouped by primitive).
# ``dx, dy, dz`` are the ray direction components, ``dd`` its squared length.

def _capsule_table(p: Primitives) -> np.ndarray:
    a, b, r2 = p.p0, p.p1, p.radius ** 2
    ba = b - a
    baba, baa = np.sum(ba * ba, 1), np.sum(ba * a, 1)
    aa, bb = np.sum(a * a, 1), np.sum(b * b, 1)
    return np.stack([*a.T, *ba.T, baba, baa, baba * aa - baa * baa - r2 * baba, aa - r2, bb - r2])


def _capsule_t(c, dx, dy, dz, dd):
    """Capsule = cylinder between the end caps, or either end sphere: the nearest hit of the three."""
    ax, ay, az, bax, bay, baz, baba, baa, cyl_c, cap_a, cap_b = c
    bad = bax * dx + bay * dy + baz * dz
    da = ax * dx + ay * dy + az * dz
    # cylinder |w|^2 |ba|^2 - (w.ba)^2 = r^2 |ba|^2 with w = t d - a
    a, b = baba * dd - bad * bad, bad * baa - baba * da
    t = _first_root(a, b, cyl_c)
    along = t * bad - baa  # (hit - a) . ba
    body = (along > 0) & (along < baba)
    t = np.where(body, t, np.inf)
    # the end spheres matter only where the ray meets the infinite cylinder (or runs along it)
    # but not its body: the capsule lies inside that cylinder
    caps = np.flatnonzero(~body & ((b * b >= a * cyl_c) | (a <= 1e-14)))
    dd, da = dd[caps], da[caps]
    db = da + bad[caps]  # b.d = a.d + ba.d
    t[caps] = np.minimum(_first_root(dd, -da, cap_a[caps]), _first_root(dd, -db, cap_b[caps]))
    return t


def _ellipsoid_table(p: Primitives) -> np.ndarray:
    """Quadric ``x^T Q x + 2 q.x + k = 0`` of each ellipsoid."""
    Q = p.axes @ (p.axes / p.size[:, None, :] ** 2).transpose(0, 2, 1)
    q = -np.einsum("nij,nj->ni", Q, p.p0)
    k = -np.sum(q * p.p0, 1) - 1.0
    return np.stack([Q[:, 0, 0], Q[:, 1, 1], Q[:, 2, 2], 2 * Q[:, 0, 1], 2 * Q[:, 0, 2], 2 * Q[:, 1, 2], *q.T, k])


def _ellipsoid_t(c, dx, dy, dz, dd):
    q00, q11, q22, q01, q02, q12, q0, q1, q2, k = c
    a = q00 * dx * dx + q11 * dy * dy + q22 * dz * dz + q01 * dx * dy + q02 * dx * dz + q12 * dy * dz
    return _first_root(a, q0 * dx + q1 * dy + q2 * dz, k)


def _box_table(p: Primitives) -> np.ndarray:
    m = p.axes.transpose(0, 2, 1)  # camera -> box coordinates
    o = -np.einsum("nij,nj->ni", m, p.p0)  # camera centre in box coordinates
    return np.stack([*m.reshape(-1, 9).T, *o.T, *p.size.T, p.radius])


_CORNERS = np.array([(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)[:, :, None]  # (8, 3, 1)
_SIDES = np.array([-1.0, 1.0])[:, None]
_EDGE_AXES = np.array([1, 0, 0]), np.array([2, 2, 1])


def _box_t(c, dx, dy, dz, dd):
    """Rounded box = box of half extents ``b`` grown by ``r``, whose surface is made of flat
    faces (on the grown box), 12 edge cylinders and 8 corner spheres. A ray's first hit is on
    a flat face exactly when it enters the grown box there; otherwise it is the nearest hit of
    the cylinders (within their edge's length) and spheres."""
    m, o, b, r = c[:9].reshape(3, 3, -1), c[9:12], c[12:15], c[15]
    d = m[:, 0] * dx + m[:, 1] * dy + m[:, 2] * dz  # (3, N) direction in box coordinates
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    t1, t2 = (-b - r - o) / d, (b + r - o) / d  # the slabs of the grown box
    lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
    t_near = np.maximum(np.maximum(lo[0], lo[1]), lo[2])
    t_far = np.minimum(np.minimum(hi[0], hi[1]), hi[2])
    enters = (t_near <= t_far) & (t_near > 0)
    on_face = enters & (np.count_nonzero(np.abs(o + t_near * d) <= b, axis=0) >= 2)
    t = np.where(on_face, t_near, np.inf)
    sel = np.flatnonzero(enters & ~on_face)
    o, d, b, r2, dd = o[:, sel], d[:, sel], b[:, sel], r[sel] ** 2, dd[sel]
    # per axis, the ray origin relative to the box's two faces across it (3, 2, n); corners and
    # edges combine these by broadcasting, corner (x, y, z) at [x, y, z], edge along k at [k, i, j]
    oc = o[:, None] - _SIDES * b[:, None]
    ocd, oc2 = oc * d[:, None], oc * oc
    x, y, z = (slice(None), None, None), (None, slice(None), None), (None, None, slice(None))
    t_corner = _first_root(dd, ocd[0][x] + ocd[1][y] + ocd[2][z], oc2[0][x] + oc2[1][y] + oc2[2][z] - r2)
    i, j = _EDGE_AXES  # the 4 edge cylinders parallel to axis k lie across axes i[k] and j[k]
    d2 = d * d
    t_edge = _first_root((d2[i] + d2[j])[:, None, None], ocd[i][:, :, None] + ocd[j][:, None],
                         oc2[i][:, :, None] + oc2[j][:, None] - r2)
    t_edge = np.where(np.abs(o[:, None, None] + t_edge * d[:, None, None]) <= b[:, None, None], t_edge, np.inf)
    t[sel] = np.minimum(t_corner.min(axis=(0, 1, 2)), t_edge.min(axis=(0, 1, 2)))
    return t


_KINDS = {CAPSULE: (_capsule_table, _capsule_t), ELLIPSOID: (_ellipsoid_table, _ellipsoid_t),
          ROUNDED_BOX: (_box_table, _box_t)}


def _kind_ranges(prims: Primitives, counts: np.ndarray):
    """For rays grouped by primitive (``counts[i]`` consecutive rays for primitive i, ``prims``
    sorted by kind): (kind, primitive slice, ray slice) of each kind present."""
    ends = np.cumsum(counts)
    first = np.searchsorted(prims.kind, list(_KINDS))
    last = np.searchsorted(prims.kind, list(_KINDS), side="right")
    for kind, a, b in zip(_KINDS, first, last):
        if b > a and ends[b - 1] > ends[a] - counts[a]:
            yield kind, slice(a, b), slice(ends[a] - counts[a], ends[b - 1])


def _grouping(prims: Primitives, idx: np.ndarray):
    """How to group rays hitting ``prims[idx]`` for :func:`_kind_ranges`: the primitives' order
    by kind (n,), the rays' order (N,) and the rays per sorted primitive (n,)."""
    by_kind = np.argsort(prims.kind, kind="stable")
    rank = np.empty_like(by_kind)
    rank[by_kind] = np.arange(len(by_kind))
    key = rank[np.asarray(idx)]
    return by_kind, np.argsort(key, kind="stable"), np.bincount(key, minlength=len(prims))


def _intersect_grouped(prims: Primitives, counts: np.ndarray, dx, dy, dz) -> np.ndarray:
    """Depths (N,) of rays grouped by primitive: ``counts[i]`` consecutive rays for primitive i.
    ``prims`` must be sorted by kind."""
    t = np.full(len(dx), np.inf)
    dd = dx * dx + dy * dy + dz * dz
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for kind, prim, ray in _kind_ranges(prims, counts):
            table, depth = _KINDS[kind]
            c = np.repeat(table(prims.take(prim)), counts[prim], axis=1)
            t[ray] = depth(c, dx[ray], dy[ray], dz[ray], dd[ray])
    return t


def intersect(prims: Primitives, idx: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Depth ``t`` (N,) of the first hit of rays ``t * dirs[i]`` from the camera centre with
    ``prims[idx[i]]``; inf for a miss or a hit behind the camera."""
    by_kind, order, counts = _grouping(prims, idx)
    d = np.asarray(dirs, float)[order]
    t = np.empty(len(order))
    t[order] = _intersect_grouped(prims.take(by_kind), counts, d[:, 0], d[:, 1], d[:, 2])
    return t


def _capsule_normal_table(p: Primitives) -> np.ndarray:
    ba = p.p1 - p.p0
    return np.stack([*p.p0.T, *ba.T, 1.0 / np.sum(ba * ba, 1)])


def _sum3(terms):
    """``0 + terms[0] + terms[1] + terms[2]``, in that order (as Python's ``sum``)."""
    return ((0.0 + terms[0]) + terms[1]) + terms[2]


def _capsule_normals(c, x):
    """Away from the nearest point of the axis."""
    a, ba, inv_baba = c[0:3], c[3:6], c[6]
    xa = x - a
    s = np.clip(_sum3(xa * ba) * inv_baba, 0.0, 1.0)
    return xa - s * ba


def _ellipsoid_normal_table(p: Primitives) -> np.ndarray:
    Q = p.axes @ (p.axes / p.size[:, None, :] ** 2).transpose(0, 2, 1)
    return np.stack([*p.p0.T, *Q.reshape(-1, 9).T])


def _ellipsoid_normals(c, x):
    """Gradient of the quadric ``(x - c)^T Q (x - c)``."""
    Q = c[3:12].reshape(3, 3, -1)
    return _sum3((Q * (x - c[0:3])).transpose(1, 0, 2))


def _box_normal_table(p: Primitives) -> np.ndarray:
    return np.stack([*p.p0.T, *p.axes.reshape(-1, 9).T, *p.size.T])


def _box_normals(c, x):
    """Away from the nearest point of the inner box."""
    axes = c[3:12].reshape(3, 3, -1)  # axes[j, i]: component j of axis i
    local = _sum3(axes * (x - c[0:3])[:, None])
    local = np.sign(local) * np.maximum(np.abs(local) - c[12:15], 0.0)
    return _sum3((axes * local).transpose(1, 0, 2))


_NORMALS = {
    CAPSULE: (_capsule_normal_table, _capsule_normals),
    ELLIPSOID: (_ellipsoid_normal_table, _ellipsoid_normals),
    ROUNDED_BOX: (_box_normal_table, _box_normals),
}


def _normals_grouped(prims: Primitives, counts: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Unit outward normals (N, 3) at ``points`` (3, N), grouped by primitive as in
    :func:`_intersect_grouped`."""
    n = np.empty(points.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        for kind, prim, ray in _kind_ranges(prims, counts):
            table, normals = _NORMALS[kind]
            n[:, ray] = normals(np.repeat(table(prims.take(prim)), counts[prim], axis=1), points[:, ray])
    return (n / np.sqrt(np.sum(n * n, axis=0))).T


def surface_normals(prims: Primitives, idx: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Unit outward normals (N, 3) at ``points`` (N, 3) on the surfaces of ``prims[idx]``."""
    by_kind, order, counts = _grouping(prims, idx)
    n = np.empty((len(order), 3))
    n[order] = _normals_grouped(prims.take(by_kind), counts, np.asarray(points, float)[order].T)
    return n


def hull_depths(prims: Primitives, idx: np.ndarray, dirs: np.ndarray, beyond: np.ndarray):
    """Depths (N,) where rays ``t * dirs[i]`` enter and leave ``prims[idx[i]]`` (inf for a
    miss); ``beyond`` (N,) is a depth past the primitive on each ray.

    The point reflection ``x -> beyond * d - x`` maps each (centrally symmetric) primitive
    onto one that the camera ray meets first at ``beyond - exit``.
    """
    probes = hull_probes(prims, idx, dirs, beyond)
    t = intersect(probes, np.arange(len(probes)), np.repeat(dirs, 2, axis=0))
    return hull_depths_from(t, beyond)


def hull_probes(prims: Primitives, idx: np.ndarray, dirs: np.ndarray, beyond: np.ndarray) -> Primitives:
    """The 2N primitives of :func:`hull_depths`: each ``prims[idx[i]]`` followed by its reflection
    about ``beyond[i] * dirs[i] / 2``."""
    own = prims.take(idx)
    centre = beyond[:, None] * dirs

    def pairs(a, b):  # (2N, ...)
        return np.stack([a, b], axis=1).reshape(-1, *a.shape[1:])

    return Primitives(
        p0=pairs(own.p0, centre - own.p0), p1=pairs(own.p1, centre - own.p1), axes=pairs(own.axes, -own.axes),
        **{name: np.repeat(getattr(own, name), 2) for name in ("kind", "radius", "part", "owner", "material")},
        size=np.repeat(own.size, 2, axis=0),
    )


def hull_depths_from(t: np.ndarray, beyond: np.ndarray):
    """:func:`hull_depths` (entry, exit) from the first-hit depths ``t`` (2N,) of :func:`hull_probes`."""
    return t[0::2], beyond - t[1::2]


def _hull_ellipsoids(prims: Primitives):
    """Ellipsoids whose convex hull is each primitive: a capsule is the hull of its two end
    spheres, a rounded box of its eight corner spheres. Returns owner (m,), centres (m, 3)
    and ``M`` (m, 3, 3), the linear map from the unit sphere."""
    owners, centres, maps = [], [], []
    for kind in (CAPSULE, ELLIPSOID, ROUNDED_BOX):
        sel = np.flatnonzero(prims.kind == kind)
        if kind == CAPSULE:
            c = np.concatenate([prims.p0[sel], prims.p1[sel]])
            m = np.eye(3) * np.tile(prims.radius[sel], 2)[:, None, None]
            sel = np.tile(sel, 2)
        elif kind == ELLIPSOID:
            c, m = prims.p0[sel], prims.axes[sel] * prims.size[sel][:, None, :]
        else:
            offsets = np.einsum("nij,knj->kni", prims.axes[sel], _CORNERS[:, None, :, 0] * prims.size[sel])
            c = (prims.p0[sel] + offsets).reshape(-1, 3)
            m = np.eye(3) * np.tile(prims.radius[sel], 8)[:, None, None]
            sel = np.tile(sel, 8)
        owners.append(sel)
        centres.append(c.reshape(-1, 3))
        maps.append(m.reshape(-1, 3, 3))
    return np.concatenate(owners), np.concatenate(centres), np.concatenate(maps)


def pixel_bounds(prims: Primitives, K: np.ndarray, width: int, height: int) -> np.ndarray:
    """Inclusive pixel boxes (n, 4) = x0, y0, x1, y1, tight around each primitive's projection
    (empty when x1 < x0 or y1 < y0).

    An ellipsoid ``M x + c`` (``|x| <= 1``) has the dual quadric
    ``[[M M^T - c c^T, -c], [-c^T, -1]]``; its outline in the image has the dual conic
    ``C = K (M M^T - c c^T) K^T``, and the image lines ``u = const`` tangent to it solve
    ``C22 u^2 - 2 C02 u + C00 = 0`` (likewise for ``v``).
    """
    owner, c, m = _hull_ellipsoids(prims)
    mm = m @ m.transpose(0, 2, 1)
    C = K @ (mm - c[:, :, None] * c[:, None, :]) @ K.T
    lo = np.full((len(prims), 2), np.inf)
    hi = np.full((len(prims), 2), -np.inf)
    for axis in range(2):
        a, b, cc = C[:, 2, 2], C[:, axis, 2], C[:, axis, axis]
        root = np.sqrt(np.maximum(b * b - a * cc, 0.0))
        ends = np.stack([(b + root) / a, (b - root) / a], axis=1)
        np.minimum.at(lo[:, axis], owner, ends.min(axis=1))
        np.maximum.at(hi[:, axis], owner, ends.max(axis=1))
    in_front = c[:, 2] - np.sqrt(mm[:, 2, 2]) > NEAR
    straddles = np.zeros(len(prims), bool)
    np.logical_or.at(straddles, owner, ~in_front)  # partly behind the camera: the whole image
    size = np.array([width, height])
    first = np.where(straddles[:, None], 0, np.clip(np.ceil(lo), 0, size))
    last = np.where(straddles[:, None], size - 1, np.clip(np.floor(hi), -1, size - 1))
    out = np.concatenate([first, last], axis=1).astype(np.int64)
    behind = np.full(len(prims), True)
    np.logical_and.at(behind, owner, c[:, 2] + np.sqrt(mm[:, 2, 2]) <= NEAR)
    out[behind] = (0, 0, -1, -1)
    return out


@dataclass
class RayCast:
    """Per-pixel result: ``depth`` (H, W) float64, inf where empty; ``index`` (H, W) int64
    primitive index, -1 where empty; ``pixels`` (M,) flat indices (``v * W + u``) of the
    covered pixels, ascending, and their unit normals ``pixel_normals`` (M, 3)."""

    depth: np.ndarray
    index: np.ndarray
    pixels: np.ndarray
    pixel_normals: np.ndarray

    @property
    def normals(self) -> np.ndarray:
        """Normal map (H, W, 3), 0 where empty."""
        out = np.zeros((self.index.size, 3))
        out[self.pixels] = self.pixel_normals
        return out.reshape(*self.index.shape, 3)


def pixel_rays(K: np.ndarray, u, v) -> np.ndarray:
    """Ray directions (..., 3) through pixel coordinates ``u``, ``v`` (z component 1)."""
    u, v = np.asarray(u, float), np.asarray(v, float)
    return np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1)


def raycast(prims: Primitives, K: np.ndarray, width: int, height: int) -> RayCast:
    """Render ``prims`` through the pinhole ``K`` (3, 3; zero skew) into a z-buffer."""
    return raycast_and_probe(prims, K, width, height)[0]


def raycast_and_probe(prims: Primitives, K: np.ndarray, width: int, height: int,
                      probes: Primitives | None = None, probe_pixels: np.ndarray | None = None):
    """:func:`raycast`, and in the same pass the depth (m,) of the first hit of each of the m
    ``probes`` (not rendered) along the ray through its pixel ``probe_pixels`` (m, 2) = u, v,
    as :func:`intersect` with those rays gives (inf for a miss)."""
    n = len(prims)
    box = pixel_bounds(prims, K, width, height)
    if probes is not None:  # a probe is a primitive tested against its one pixel
        prims = Primitives.concatenate([prims, probes])
        box = np.concatenate([box, np.asarray(probe_pixels, np.int64)[:, [0, 1, 0, 1]]])
    by_kind = np.argsort(prims.kind, kind="stable")
    sorted_prims, box = prims.take(by_kind), box[by_kind]
    w = np.maximum(box[:, 2] - box[:, 0] + 1, 0)
    h = np.where(w > 0, np.maximum(box[:, 3] - box[:, 1] + 1, 0), 0)
    counts = w * h
    # (primitive, pixel) pairs, primitive by primitive, row by row
    row_prim = np.repeat(np.arange(len(prims)), h)
    row_y = box[row_prim, 1] + np.arange(len(row_prim)) - np.repeat(np.cumsum(h) - h, h)
    row_w = w[row_prim]
    px = np.arange(counts.sum()) - np.repeat(np.cumsum(row_w) - row_w - box[row_prim, 0], row_w)
    py = np.repeat(row_y, row_w)
    dx, dy = (px - K[0, 2]) / K[0, 0], (py - K[1, 2]) / K[1, 1]
    t = _intersect_grouped(sorted_prims, counts, dx, dy, np.ones_like(dx))
    pair_prim = np.repeat(np.arange(len(prims)), counts)  # sorted primitive of each pair
    probe = np.flatnonzero(by_kind >= n)  # sorted positions of the probes, one pair each
    probe_pair = (np.cumsum(counts) - counts)[probe]
    probe_t = np.empty(len(prims) - n)
    probe_t[by_kind[probe] - n] = t[probe_pair]
    t[probe_pair] = np.inf  # probes are not rendered
    hit = np.flatnonzero((t > NEAR) & (t < np.inf))
    pixel, t_hit = py[hit] * width + px[hit], t[hit]
    depth = np.full(width * height, np.inf)
    np.minimum.at(depth, pixel, t_hit)
    front = t_hit == depth[pixel]
    win, pixel = hit[front], pixel[front]
    winner = pair_prim[win]  # sorted primitive of each covered pixel
    index = np.full(width * height, -1, np.int64)
    index[pixel] = by_kind[winner]
    covered = np.flatnonzero(index >= 0)
    slot = np.empty(width * height, np.int64)  # where each covered pixel comes in ``pixel``
    slot[pixel] = np.arange(len(pixel))
    t = t[win]
    normals = _normals_grouped(sorted_prims, np.bincount(winner, minlength=len(prims)),
                               np.stack([t * dx[win], t * dy[win], t]))
    cast = RayCast(depth.reshape(height, width), index.reshape(height, width), covered, normals[slot[covered]])
    return cast, probe_t
