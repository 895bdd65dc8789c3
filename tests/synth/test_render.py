import numpy as np
import pytest

from posekit.synth import render
from posekit.synth.render import CAPSULE, ELLIPSOID, ROUNDED_BOX, Primitives
from posekit.synth.rotations import euler_zyx_to_matrix

K = np.array([[60.0, 0.0, 31.5], [0.0, 60.0, 27.5], [0.0, 0.0, 1.0]])
W, H = 64, 56


def make(kind, p0, p1=None, axes=np.eye(3), size=(0, 0, 0), radius=0.0, part=1):
    p0 = np.asarray(p0, float)
    return Primitives(
        kind=np.array([kind], np.int8), p0=p0[None], p1=np.asarray(p0 if p1 is None else p1, float)[None],
        axes=np.asarray(axes, float)[None], size=np.asarray(size, float)[None], radius=np.array([radius], float),
        part=np.array([part], np.uint8), owner=np.zeros(1, np.int32), material=np.zeros(1, np.int8),
    )


def sdf(kind, prim: Primitives, x):
    """Signed distances (N,) of points x (N, 3), written independently of the renderer."""
    if kind == CAPSULE:
        a, b, r = prim.p0[0], prim.p1[0], prim.radius[0]
        s = np.clip((x - a) @ (b - a) / ((b - a) @ (b - a)), 0, 1)
        return np.linalg.norm(x - a - s[:, None] * (b - a), axis=1) - r
    local = (x - prim.p0[0]) @ prim.axes[0]
    if kind == ELLIPSOID:  # implicit function, zero on the surface (not a true distance)
        return np.linalg.norm(local / prim.size[0], axis=1) - 1.0
    q = np.abs(local) - prim.size[0]
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(axis=1), 0) - prim.radius[0]


def random_primitive(kind, rng):
    centre = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), rng.uniform(2.0, 3.0)])
    axes = euler_zyx_to_matrix(rng.uniform(-np.pi, np.pi, 3))
    if kind == CAPSULE:
        half = axes[:, 0] * rng.uniform(0.1, 0.5)
        return make(kind, centre - half, centre + half, radius=rng.uniform(0.05, 0.3))
    if kind == ELLIPSOID:
        return make(kind, centre, axes=axes, size=rng.uniform(0.1, 0.6, 3))
    return make(kind, centre, axes=axes, size=rng.uniform(0.0, 0.4, 3), radius=rng.uniform(0.03, 0.2))


@pytest.mark.parametrize("kind", [CAPSULE, ELLIPSOID, ROUNDED_BOX])
@pytest.mark.parametrize("seed", range(3))
def test_hits_lie_on_the_surface_and_misses_never_touch_it(kind, seed):
    prim = random_primitive(kind, np.random.default_rng(seed))
    cast = render.raycast(prim, K, W, H)
    v, u = np.mgrid[0:H, 0:W]
    rays = render.pixel_rays(K, u.ravel(), v.ravel())
    depth = cast.depth.ravel()
    hit = np.isfinite(depth)
    assert 10 < hit.sum() < hit.size
    points = depth[hit, None] * rays[hit]
    assert np.abs(sdf(kind, prim, points)).max() < 1e-9
    # no surface in front of the hit, and nothing at all along missed rays (dense march)
    steps = np.linspace(0.0, 1.0, 400)[:-1]
    front = (steps[None, :, None] * points[:, None]).reshape(-1, 3)
    assert sdf(kind, prim, front).min() > -1e-9
    missed = rays[~hit][:: max(1, (~hit).sum() // 300)]
    far = (np.linspace(0.5, 6.0, 1000)[None, :, None] * missed[:, None]).reshape(-1, 3)
    assert sdf(kind, prim, far).min() > -0.01  # within the march step of grazing rays


@pytest.mark.parametrize("kind", [CAPSULE, ELLIPSOID, ROUNDED_BOX])
def test_normals_are_unit_outward_gradients_of_the_surface(kind):
    prim = random_primitive(kind, np.random.default_rng(7))
    cast = render.raycast(prim, K, W, H)
    v, u = np.nonzero(np.isfinite(cast.depth))
    points = cast.depth[v, u, None] * render.pixel_rays(K, u, v)
    eps = 1e-6
    steps = np.eye(3) * eps
    grad = np.stack([(sdf(kind, prim, points + e) - sdf(kind, prim, points - e)) / (2 * eps) for e in steps], 1)
    grad /= np.linalg.norm(grad, axis=1, keepdims=True)
    normals = cast.normals[v, u]
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-9)
    assert np.min(np.sum(normals * grad, 1)) > 1 - 1e-5
    assert np.all(np.sum(normals * points, 1) < 0)  # visible surfaces face the camera


def test_z_buffer_keeps_the_nearest_surface():
    near = make(ELLIPSOID, (0.1, 0.0, 2.0), size=(0.3, 0.3, 0.3), part=1)
    far = make(CAPSULE, (-0.5, 0.0, 3.0), (0.5, 0.0, 3.0), radius=0.3, part=2)
    both = Primitives.concatenate([far, near])
    cast = render.raycast(both, K, W, H)
    alone = [render.raycast(p, K, W, H).depth for p in (far, near)]
    np.testing.assert_array_equal(cast.depth, np.minimum(*alone))
    overlap = np.isfinite(alone[0]) & np.isfinite(alone[1])
    assert overlap.sum() > 100 and np.all(cast.index[overlap] == 1)


def test_projected_bounds_lose_no_pixel():
    rng = np.random.default_rng(11)
    prims = Primitives.concatenate([random_primitive(k, rng) for k in (CAPSULE, ELLIPSOID, ROUNDED_BOX) * 4])
    cast = render.raycast(prims, K, W, H)
    # brute force: every pixel against every primitive
    v, u = np.mgrid[0:H, 0:W]
    rays = render.pixel_rays(K, u.ravel(), v.ravel())
    idx = np.repeat(np.arange(len(prims)), H * W)
    t = render.intersect(prims, idx, np.tile(rays, (len(prims), 1))).reshape(len(prims), H, W)
    np.testing.assert_array_equal(cast.depth, t.min(axis=0))
    covered = np.isfinite(cast.depth)
    np.testing.assert_array_equal(cast.index[covered], t.argmin(axis=0)[covered])
    box = render.pixel_bounds(prims, K, W, H)
    for i in range(len(prims)):  # and the bounds are not the whole image
        ys, xs = np.nonzero(np.isfinite(t[i]))
        assert box[i, 0] <= xs.min() and xs.max() <= box[i, 2] and box[i, 1] <= ys.min() and ys.max() <= box[i, 3]
    assert np.mean((box[:, 2] - box[:, 0] + 1) * (box[:, 3] - box[:, 1] + 1)) < 0.5 * W * H


def test_rays_along_a_capsule_axis_hit_its_near_cap():
    capsule = make(CAPSULE, (0.0, 0.0, 3.0), (0.0, 0.0, 2.0), radius=0.2)  # axis points at the camera
    t = render.intersect(capsule, np.array([0]), np.array([[0.0, 0.0, 1.0]]))
    assert t[0] == pytest.approx(1.8)


@pytest.mark.parametrize("kind", [CAPSULE, ELLIPSOID, ROUNDED_BOX])
def test_hull_depths_are_where_rays_enter_and_leave_the_primitive(kind):
    prim = random_primitive(kind, np.random.default_rng(5))
    v, u = np.mgrid[0:H, 0:W]
    rays = render.pixel_rays(K, u.ravel(), v.ravel())
    idx = np.zeros(len(rays), np.int64)
    t_in, t_out = render.hull_depths(prim, idx, rays, np.full(len(rays), 20.0))
    np.testing.assert_array_equal(t_in, render.intersect(prim, idx, rays))
    hit = np.isfinite(t_in)
    np.testing.assert_array_equal(hit, np.isfinite(t_out))
    assert np.all(t_out[hit] >= t_in[hit])
    assert np.abs(sdf(kind, prim, t_out[hit, None] * rays[hit])).max() < 1e-9
    middle = 0.5 * (t_in[hit] + t_out[hit])[:, None] * rays[hit]
    assert np.all(sdf(kind, prim, middle[t_out[hit] - t_in[hit] > 1e-6]) < 0)


def test_probes_are_intersected_in_the_render_pass_without_being_drawn():
    rng = np.random.default_rng(7)
    prims = Primitives.concatenate([random_primitive(k, rng) for k in (ROUNDED_BOX, CAPSULE, ELLIPSOID, CAPSULE)])
    v, u = np.mgrid[0:H, 0:W]
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)
    rays = render.pixel_rays(K, pixels[:, 0], pixels[:, 1])
    idx = np.arange(len(pixels)) % len(prims)
    beyond = np.full(len(pixels), 20.0)
    probes = render.hull_probes(prims, idx, rays, beyond)
    cast, t = render.raycast_and_probe(prims, K, W, H, probes, np.repeat(pixels, 2, axis=0))
    plain = render.raycast(prims, K, W, H)
    for field in ("depth", "normals", "index", "pixels"):
        np.testing.assert_array_equal(getattr(cast, field), getattr(plain, field))
    t_in, t_out = render.hull_depths_from(t, beyond)
    assert np.isfinite(t_in).sum() > 100
    for got, want in zip((t_in, t_out), render.hull_depths(prims, idx, rays, beyond)):
        np.testing.assert_array_equal(got, want)
