"""Bottom-up inference: confidence maps + Part Affinity Fields -> people (OpenPose grouping).

Cao et al., CVPR 2017 / TPAMI 2019, "Multi-Person Parsing using PAFs".

:func:`group` works on the maps of one image, in heatmap pixels:

1. **Part candidates** d_j^m: local maxima of each confidence map (3x3 max-pooling,
   value > ``peak_threshold``). A plateau of two equal pixels (a keypoint halfway
   between pixel centres) gives one candidate. Optional sub-pixel refinement fits a
   parabola to log S along x and along y, which is exact for the codec's Gaussians.
2. **Limb scores**. For limb c = (j1, j2) and every candidate pair (d_{j1}, d_{j2})::

       E = int_0^1 L_c(p(u)) . (d_{j2} - d_{j1}) / ||d_{j2} - d_{j1}|| du,   p(u) = (1-u) d_{j1} + u d_{j2}

   approximated by the mean over ``num_samples`` uniform u (PAF bilinearly sampled).
   As in the released code, a pair is a limb candidate only if at least
   ``min_fraction`` of the samples exceed ``paf_threshold`` and E plus the distance
   prior ``min(0.5 h / ||d_{j2} - d_{j1}|| - 1, 0)`` (h: map height, penalising limbs
   longer than half the image) is positive.
3. **Matching**. The K-partite matching is relaxed to a spanning tree of the
   skeleton, one maximum-weight bipartite matching per tree edge:
   ``matching='hungarian'`` solves each exactly (scipy's linear_sum_assignment);
   ``'greedy'`` takes pairs by decreasing score as the released code does.
4. **Assembly**. Tree edges join candidates into people: in a tree a connection
   always joins two fragments with disjoint keypoint types, so the people are the
   connected components of the accepted connections. Skeletons with cycles (coco17:
   the torso square, the face triangle, ears to shoulders) get the spanning tree of
   :func:`spanning_tree`: links are taken in their listed order and kept when they
   join two parts not yet connected (Kruskal with list order as priority, so the
   skeleton's author decides which links form the tree). The left-over links are
   matched too and *merge* two fragments when they share no keypoint type, as the
   released code's redundant connections do: coco17's face hangs on one ear-shoulder
   link of the tree, and the other one rescues it when that ear is missing.
5. **Scoring**. A person's score is the mean of its part scores (peak values) and
   its limb scores E; people with fewer than ``min_parts`` parts or a score below
   ``min_score`` are dropped.
6. **Completion** (optional, not in the paper; :func:`complete_people`). A person
   found with some parts missing (no peak above the threshold, or one taken by a
   neighbour) gets each of them from its confidence map near the parts it has, so
   every person carries all K parts as top-down estimators do. COCO's OKS scores a
   missing part as a miss, so this raises AP: most missing parts are occluded ones,
   whose maps still hold a weak, unsuppressed maximum in the right place.

:class:`BottomUpEstimator` wraps a trained model: letterbox the image to the input
size, run the network, group the last stage's maps, map back to image pixels. Its flip
test and multi-scale test (the paper's evaluation averages the maps of several input
scales) average maps before grouping.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..codecs.paf import PAFCodec
from ..data.topdown import IMAGENET_MEAN, IMAGENET_STD, normalize
from ..data.transforms import apply_affine, invert_affine, warp_image
from ..skeletons import Skeleton, get_skeleton
from .topdown import check_scales, resample_maps


# ----------------------------------------------------------------------------- part candidates
def find_peaks(heatmaps: np.ndarray, threshold: float = 0.1, refine: bool = True) -> list[np.ndarray]:
    """Part candidates of each map.

    Args:
        heatmaps: (K, h, w) confidence maps.
        threshold: minimum peak value.
        refine: sub-pixel offsets from a parabola fit of log S along x and along y
            (clamped to half a pixel; none on the outermost pixels).
    Returns:
        K arrays (n_j, 3): x, y in heatmap pixels and the peak value.
    """
    maps = np.asarray(heatmaps, np.float32)
    k, h, w = maps.shape
    # 3x3 non-maximum suppression, evaluated only at the pixels above the threshold
    padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf).reshape(-1)
    j, y, x = np.nonzero(maps > threshold)
    flat = (j * (h + 2) + y + 1) * (w + 2) + x + 1
    score = padded[flat]
    earlier = (-(w + 2) - 1, -(w + 2), -(w + 2) + 1, -1)  # neighbours before a pixel in raster order
    peak = np.ones(len(flat), bool)
    for step in earlier + tuple(-s for s in earlier):
        peak &= score >= padded[flat + step]
    j, y, x, flat, score = j[peak], y[peak], x[peak], flat[peak], score[peak]
    # plateaus: drop a peak whose equal neighbour before it in raster order is also a peak
    is_peak = np.zeros(padded.shape, bool)
    is_peak[flat] = True
    keep = np.ones(len(flat), bool)
    for step in earlier:
        keep &= ~(is_peak[flat + step] & (padded[flat + step] == score))
    j, y, x, score = j[keep], y[keep], x[keep], score[keep]
    fx, fy = x.astype(np.float64), y.astype(np.float64)
    if refine:
        fx += _parabola_offset(maps, j, y, x, 0, 1)
        fy += _parabola_offset(maps, j, y, x, 1, 0)
    found = np.stack([fx, fy, score], 1)
    return np.split(found, np.searchsorted(j, np.arange(1, k)))


def _parabola_offset(maps: np.ndarray, j, y, x, dy: int, dx: int) -> np.ndarray:
    """Vertex of the parabola through log S at peak - step, peak, peak + step (0 at the border)."""
    _, h, w = maps.shape
    inside = (x - dx >= 0) & (x + dx < w) & (y - dy >= 0) & (y + dy < h)
    ya, yb = np.clip(y - dy, 0, h - 1), np.clip(y + dy, 0, h - 1)
    xa, xb = np.clip(x - dx, 0, w - 1), np.clip(x + dx, 0, w - 1)
    before, centre, after = (np.log(np.maximum(maps[j, yy, xx], 1e-10).astype(np.float64))
                             for yy, xx in ((ya, xa), (y, x), (yb, xb)))
    curvature = before - 2 * centre + after
    ok = inside & (curvature < -1e-12)
    offset = 0.5 * (before - after) / np.where(ok, curvature, -1.0)
    return np.where(ok, np.clip(offset, -0.5, 0.5), 0.0)


# ----------------------------------------------------------------------------- limb scores
def sample_pafs(pafs: np.ndarray, limb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of the fields: limb (N,) indices, points (N,S,2) x, y -> (N,S,2) vectors.

    The fields are zero-padded by one pixel, so points up to a pixel outside the map
    read zeros around the border (grouping only samples between candidates, inside).
    """
    _, h, w = pafs.shape
    table = np.pad(pafs, ((0, 0), (1, 1), (1, 1))).reshape(-1)  # flat (2C, h+2, w+2)
    x = np.clip(points[..., 0], -1, w) + 1
    y = np.clip(points[..., 1], -1, h) + 1
    x0 = np.minimum(np.floor(x), w).astype(np.int64)
    y0 = np.minimum(np.floor(y), h).astype(np.int64)
    fx, fy = x - x0, y - y0
    out = []
    for channel in (2 * limb, 2 * limb + 1):  # x then y component
        flat = (channel[:, None] * (h + 2) + y0) * (w + 2) + x0
        top = (1 - fx) * np.take(table, flat) + fx * np.take(table, flat + 1)
        bottom = (1 - fx) * np.take(table, flat + w + 2) + fx * np.take(table, flat + w + 3)
        out.append((1 - fy) * top + fy * bottom)
    return np.stack(out, -1)


def limb_scores(pafs: np.ndarray, candidates: list[np.ndarray], limbs, num_samples: int = 10,
                paf_threshold: float = 0.05, min_fraction: float = 0.8) -> list[np.ndarray]:
    """Scores of every candidate pair of every limb, all limbs in one vectorised pass.

    Args:
        pafs: (2C, h, w) part affinity fields.
        candidates: K arrays (n_j, >=2) of candidate x, y (:func:`find_peaks`).
        limbs: C (j1, j2) pairs.
    Returns:
        C arrays (n_{j1}, n_{j2}): E (mean of the samples) plus the distance prior,
        -inf where the pair is rejected.
    """
    h = pafs.shape[1]
    shapes = [(len(candidates[a]), len(candidates[b])) for a, b in limbs]
    sizes = [n1 * n2 for n1, n2 in shapes]
    if not sum(sizes):
        return [np.zeros(shape) for shape in shapes]
    starts = np.concatenate([np.repeat(candidates[a][:, :2], n2, 0) for (a, _), (_, n2) in zip(limbs, shapes)])
    ends = np.concatenate([np.tile(candidates[b][:, :2], (n1, 1)) for (_, b), (n1, _) in zip(limbs, shapes)])
    limb = np.repeat(np.arange(len(limbs)), sizes)
    d = ends - starts  # (N,2)
    norm = np.hypot(d[:, 0], d[:, 1])
    unit = d / np.maximum(norm, 1e-9)[:, None]
    points = starts[:, None, :] + np.linspace(0.0, 1.0, num_samples)[None, :, None] * d[:, None, :]  # (N,S,2)
    dots = (sample_pafs(pafs, limb, points) * unit[:, None, :]).sum(-1)  # L_c(p(u)) . unit  (N,S)
    score = dots.mean(-1) + np.minimum(0.5 * h / np.maximum(norm, 1e-9) - 1, 0)
    ok = ((dots > paf_threshold).mean(-1) >= min_fraction) & (score > 0) & (norm > 1e-9)
    score = np.where(ok, score, -np.inf)
    return [s.reshape(shape) for s, shape in zip(np.split(score, np.cumsum(sizes)[:-1]), shapes)]


def match(scores: np.ndarray, method: str = "hungarian") -> list[tuple[int, int, float]]:
    """Maximum-weight bipartite matching of a (n1, n2) score matrix (-inf: not allowed) -> [(i, k, score)]."""
    allowed = np.isfinite(scores)
    if method == "hungarian":
        rows, cols = linear_sum_assignment(np.where(allowed, scores, 0.0), maximize=True)
        return [(int(i), int(k), float(scores[i, k])) for i, k in zip(rows, cols) if allowed[i, k]]
    if method == "greedy":
        i_used, k_used, out = set(), set(), []
        flat = np.flatnonzero(allowed)
        for f in flat[np.argsort(-scores.reshape(-1)[flat], kind="stable")]:
            i, k = divmod(int(f), scores.shape[1])
            if i not in i_used and k not in k_used:
                i_used.add(i)
                k_used.add(k)
                out.append((i, k, float(scores[i, k])))
        return out
    raise ValueError(f"matching must be 'hungarian' or 'greedy', got {method!r}")


# ----------------------------------------------------------------------------- assembly
def spanning_tree(limbs, num_keypoints: int) -> tuple[list[int], list[int]]:
    """Split limb indices into a spanning forest of the skeleton and the left-over (cycle-closing) links.

    Links are taken in their listed order and kept when they join two keypoints not
    yet connected (Kruskal with the list order as priority).
    """
    parent = list(range(num_keypoints))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    tree, extra = [], []
    for c, (a, b) in enumerate(limbs):
        ra, rb = find(a), find(b)
        if ra == rb:
            extra.append(c)
        else:
            parent[ra] = rb
            tree.append(c)
    return tree, extra


def group(heatmaps: np.ndarray, pafs: np.ndarray, skeleton: Skeleton | str | None = None, limbs=None,
          **options) -> np.ndarray:
    """People from the maps of one image: :func:`group_with_scores` without the person scores.

    Returns (N, K, 3): x, y in heatmap pixels and the part score (x = y = score = 0 for a missing part).
    """
    return group_with_scores(heatmaps, pafs, skeleton, limbs, **options)[0]


def group_with_scores(heatmaps: np.ndarray, pafs: np.ndarray, skeleton: Skeleton | str | None = None, limbs=None,
                      *, peak_threshold: float = 0.1, refine: bool = True, num_samples: int = 10,
                      paf_threshold: float = 0.05, min_fraction: float = 0.8, matching: str = "hungarian",
                      min_parts: int = 3, min_score: float = 0.2,
                      completion_radius: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """People from the maps of one image (the algorithm is in the module docstring).

    Args:
        heatmaps: (K, h, w) confidence maps.
        pafs: (2C, h, w) part affinity fields, limb c in channels 2c (x) and 2c+1 (y).
        skeleton: keypoint set (or its name); its links are the limbs unless ``limbs`` is given.
        limbs: (C, 2) keypoint index pairs in PAF channel order.
        peak_threshold, refine: part candidates (:func:`find_peaks`).
        num_samples, paf_threshold, min_fraction: limb candidates (:func:`limb_scores`).
        matching: 'hungarian' or 'greedy' (:func:`match`).
        min_parts, min_score: people kept.
        completion_radius: > 0 fills the parts people lack (:func:`complete_people`'s
            radius); 0 (the default) leaves them missing, as the paper does.
    Returns:
        people (N, K, 3): x, y in heatmap pixels and the part score (x = y = score = 0
        for a missing part); person_scores (N,): the mean of the person's part and limb
        scores (of the parts found, before completion). Sorted by decreasing person score.
    """
    heatmaps, pafs = np.asarray(heatmaps, np.float32), np.asarray(pafs, np.float32)
    k, h, _ = heatmaps.shape
    if limbs is None:
        if skeleton is None:
            raise ValueError("group needs the skeleton or the limbs")
        limbs = (get_skeleton(skeleton) if isinstance(skeleton, str) else skeleton).links
    limbs = [(int(a), int(b)) for a, b in limbs]
    if pafs.shape != (2 * len(limbs), *heatmaps.shape[1:]):
        raise ValueError(f"{len(limbs)} limbs on {heatmaps.shape[1:]} maps need PAFs of shape "
                         f"{(2 * len(limbs), *heatmaps.shape[1:])} (2 channels each), got {pafs.shape}")

    candidates = find_peaks(heatmaps, peak_threshold, refine)
    offsets = np.cumsum([0] + [len(c) for c in candidates])
    nodes = np.concatenate(candidates)  # (n, 3): every candidate, part after part
    node_part = np.repeat(np.arange(k), np.diff(offsets))
    n = len(nodes)

    # union-find over candidates; each root keeps its keypoint-type bitmask and limb score sum/count
    parent = list(range(n))
    parts_mask = [1 << int(j) for j in node_part]
    limb_sum = np.zeros(n)
    limb_count = np.zeros(n, np.int64)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    tree, extra = spanning_tree(limbs, k)
    scores = limb_scores(pafs, candidates, limbs, num_samples, paf_threshold, min_fraction)
    for c in tree + extra:
        a, b = limbs[c]
        for i, m, s in match(scores[c], matching):
            ra, rb = find(offsets[a] + i), find(offsets[b] + m)
            if ra != rb:
                if parts_mask[ra] & parts_mask[rb]:
                    continue  # a left-over link between fragments that would get two of one part
                parent[ra] = rb
                parts_mask[rb] |= parts_mask[ra]
                limb_sum[rb] += limb_sum[ra]
                limb_count[rb] += limb_count[ra]
            limb_sum[rb] += s
            limb_count[rb] += 1

    roots = np.array([find(i) for i in range(n)], np.int64)
    people, person_scores = [], []
    for r in np.unique(roots):
        members = np.flatnonzero(roots == r)
        score = (nodes[members, 2].sum() + limb_sum[r]) / (len(members) + limb_count[r])
        if len(members) < min_parts or score < min_score:
            continue
        person = np.zeros((k, 3), np.float32)
        person[node_part[members]] = nodes[members]
        people.append(person)
        person_scores.append(score)
    order = np.argsort(-np.asarray(person_scores), kind="stable")
    if not people:
        return np.zeros((0, k, 3), np.float32), np.zeros(0, np.float32)
    people = np.stack(people)[order]
    if completion_radius > 0:
        people = complete_people(people, heatmaps, limbs, completion_radius)
    return people, np.asarray(person_scores, np.float32)[order]


def complete_people(people: np.ndarray, heatmaps: np.ndarray, limbs, radius: float = 0.35) -> np.ndarray:
    """Fill the missing parts of people found by :func:`group_with_scores`.

    Parts are filled breadth-first from the ones found, along the skeleton's links: a
    missing part j goes to the maximum of its confidence map S_j within ``radius`` x
    the person's extent (the larger side of its found parts' box, in map pixels) of
    its linked parts already placed, refined to sub-pixel as peaks are. A part with no
    linked part placed yet is searched around the found parts' mean. People with fewer
    than two parts are left alone.

    Args:
        people: (N, K, 3) x, y (map pixels), part score; score 0 marks a missing part.
        heatmaps: (K, h, w) confidence maps.
        limbs: (C, 2) keypoint index pairs (the links to fill along).
    Returns:
        (N, K, 3) with the missing parts filled; a filled part's score is its map value
        (at least 1e-3, so it counts as present).
    """
    heatmaps = np.asarray(heatmaps, np.float32)
    linked = [[] for _ in range(heatmaps.shape[0])]
    for a, b in limbs:
        linked[a].append(b)
        linked[b].append(a)
    out = np.array(people, np.float32, copy=True)
    for person in out:
        placed = person[:, 2] > 0
        if placed.sum() < 2 or placed.all():
            continue
        found_xy = person[placed, :2].astype(np.float64)
        r = max(radius * np.ptp(found_xy, axis=0).max(), 1.0)
        while not placed.all():
            ready = [j for j in np.flatnonzero(~placed) if placed[linked[j]].any()]
            for j in ready or np.flatnonzero(~placed):
                anchors = person[[n for n in linked[j] if placed[n]], :2]
                person[j] = _map_maximum(heatmaps, j, anchors if len(anchors) else found_xy.mean(0)[None], r)
                placed[j] = True
    return out


def _map_maximum(heatmaps: np.ndarray, j: int, centres: np.ndarray, r: float) -> np.ndarray:
    """(x, y, value) of the maximum of map j within r of any of the centres (n, 2), sub-pixel refined."""
    _, h, w = heatmaps.shape
    x0, y0 = np.maximum(np.floor(centres.min(0) - r), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(centres.max(0) + r), (w - 1, h - 1)).astype(int)
    ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1].reshape(2, -1)
    near = ((xs[:, None] - centres[:, 0]) ** 2 + (ys[:, None] - centres[:, 1]) ** 2 <= r * r).any(1)
    if not near.any():  # every centre more than r outside the map: stay at the first, clipped into it
        x, y = np.clip(centres[0], 0, (w - 1, h - 1))
        return np.array([x, y, 1e-3], np.float32)
    xs, ys = xs[near], ys[near]
    best = int(np.argmax(heatmaps[j, ys, xs]))
    jj, yy, xx = np.array([j]), ys[best:best + 1], xs[best:best + 1]
    x = xx[0] + _parabola_offset(heatmaps, jj, yy, xx, 0, 1)[0]
    y = yy[0] + _parabola_offset(heatmaps, jj, yy, xx, 1, 0)[0]
    return np.array([x, y, max(heatmaps[j, yy[0], xx[0]], 1e-3)], np.float32)


# ----------------------------------------------------------------------------- estimator
def letterbox_matrix(image_size: tuple[int, int], input_size: tuple[int, int]) -> np.ndarray:
    """2x3 affine image pixels -> input pixels: uniform scale so the image fits, top-left aligned.

    UDP convention: pixel centres 0 and w-1 of the image map to 0 and s (w-1) with
    s = min((W-1)/(w-1), (H-1)/(h-1)); the rest of the input is zero padding.
    """
    (w, h), (big_w, big_h) = image_size, input_size
    s = min((big_w - 1) / max(w - 1, 1), (big_h - 1) / max(h - 1, 1))
    return np.array([[s, 0, 0], [0, s, 0]], np.float32)


def scaled_input_size(input_size: tuple[int, int], scale: float, multiple: int = 16) -> tuple[int, int]:
    """(W, H) times ``scale``, each rounded to a multiple of ``multiple`` pixels (at least one): the input
    of one scale of the multi-scale test (16: the stride of the deepest features of the bottom-up models)."""
    return tuple(max(multiple, int(round(side * scale / multiple)) * multiple) for side in input_size)


class BottomUpEstimator:
    """A loaded bottom-up model: ``estimator(image_rgb) -> (keypoints (N,K,2), scores (N,K), person_scores (N,))``.

    The sidecar gives the skeleton, the codec (``{"kind": "paf", ...}`` with the
    :class:`~posekit.codecs.paf.PAFCodec` fields), the normalisation and, optionally,
    ``grouping``: keyword arguments of :func:`group` (thresholds, matching...).
    """

    def __init__(self, model, sidecar: dict):
        self.model = model.eval().to(memory_format=torch.channels_last)  # oneDNN's native layout: no reorders
        self.sidecar = sidecar
        self.skeleton = get_skeleton(sidecar["skeleton"])
        params = {key: v for key, v in sidecar["codec"].items() if key != "kind"}
        if sidecar["codec"].get("kind", "paf") != "paf":
            raise ValueError(f"bottom-up models need a 'paf' codec, the sidecar has {sidecar['codec']['kind']!r}")
        self.codec = PAFCodec(**params)
        self.mean = tuple(sidecar.get("normalisation", {}).get("mean", IMAGENET_MEAN))
        self.std = tuple(sidecar.get("normalisation", {}).get("std", IMAGENET_STD))
        self.grouping = dict(sidecar.get("grouping", {}))

    @classmethod
    def load(cls, name_or_path: str, device: str = "cpu") -> "BottomUpEstimator":
        from ..io import load_model

        return cls(*load_model(name_or_path, device))

    @torch.no_grad()
    def maps(self, image_rgb: np.ndarray, flip: bool = False, scales: Sequence[float] = (1.0,)
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Last-stage (heatmaps (K,h,w), pafs (2C,h,w)) of the letterboxed image, and the image->input affine.

        ``flip``: also run the mirrored input (one batch of two) and average with its
        maps flipped back (:meth:`~posekit.codecs.paf.PAFCodec.flip_back`).
        ``scales``: the multi-scale test of the paper's evaluation: the image is also letterboxed
        into the input size times each scale (rounded to a multiple of 16 pixels), and each
        scale's maps, resampled onto the reference grid (input size x 1), enter the average.
        """
        h, w = image_rgb.shape[:2]
        affine = letterbox_matrix((w, h), self.codec.input_size)
        heatmaps, pafs = [], []
        reference_size = tuple(self.codec.input_size)
        for scale in check_scales(scales):
            size = reference_size if scale == 1.0 else scaled_input_size(reference_size, scale)
            scale_heatmaps, scale_pafs = self._maps_at(image_rgb, size, flip)
            if size != reference_size:
                scale_heatmaps, scale_pafs = (self._to_reference_grid(m, (w, h), size)
                                              for m in (scale_heatmaps, scale_pafs))
            heatmaps.append(scale_heatmaps)
            pafs.append(scale_pafs)
        return np.mean(heatmaps, 0, dtype=np.float32), np.mean(pafs, 0, dtype=np.float32), affine

    def _maps_at(self, image_rgb: np.ndarray, input_size: tuple[int, int], flip: bool):
        """Maps of the image letterboxed into ``input_size`` (W, H), on that input's own heatmap grid."""
        h, w = image_rgb.shape[:2]
        crop = warp_image(image_rgb, letterbox_matrix((w, h), input_size), input_size)
        device = next(self.model.parameters()).device
        images = normalize(torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))[None].to(device),
                           self.mean, self.std)
        if flip:
            images = torch.cat([images, images.flip(-1)])
        out = self.model(images.contiguous(memory_format=torch.channels_last))
        heatmaps, pafs = out["heatmaps"][-1].float().cpu().numpy(), out["pafs"][-1].float().cpu().numpy()
        if not flip:
            return heatmaps[0], pafs[0]
        mirrored_heatmaps, mirrored_pafs = self.codec.flip_back(heatmaps[1], pafs[1])
        return 0.5 * (heatmaps[0] + mirrored_heatmaps), 0.5 * (pafs[0] + mirrored_pafs)

    def _to_reference_grid(self, maps: np.ndarray, image_size: tuple[int, int], input_size: tuple[int, int]
                           ) -> np.ndarray:
        """Maps (C,h',w') of the image letterboxed into ``input_size`` -> (C,h,w) on the reference heatmap grid
        (bilinear; under UDP both grids are top-left aligned, so the map between them is a per-axis scaling)."""
        def cells_from_image(size: tuple[int, int], grid: tuple[int, int]) -> np.ndarray:
            """(1,3,3) image pixel -> heatmap cell of the image letterboxed into ``size`` (W, H), ``grid`` (w, h)."""
            to_cells = np.diag([(grid[0] - 1) / (size[0] - 1), (grid[1] - 1) / (size[1] - 1), 1.0])
            return (to_cells @ np.vstack([letterbox_matrix(image_size, size), [0, 0, 1]]))[None]

        reference_grid = tuple(self.codec.heatmap_size)
        source = cells_from_image(input_size, (maps.shape[-1], maps.shape[-2]))
        target = cells_from_image(tuple(self.codec.input_size), reference_grid)
        maps = torch.from_numpy(np.ascontiguousarray(maps))[None]
        return resample_maps(maps, source, target, reference_grid)[0].numpy()

    def __call__(self, image_rgb: np.ndarray, flip: bool = False, scales: Sequence[float] = (1.0,)):
        return self.people(*self.maps(image_rgb, flip, scales))

    def people(self, heatmaps: np.ndarray, pafs: np.ndarray, affine: np.ndarray, **options):
        """Group maps from :meth:`maps` into people in image pixels: keypoints (N,K,2), scores (N,K),
        person_scores (N,). ``options`` override the sidecar's grouping options for this call."""
        people, person_scores = group_with_scores(heatmaps, pafs, self.skeleton, self.codec.limbs,
                                                  **{**self.grouping, **options})
        found = people[..., 2] > 0
        kps = apply_affine(self.codec.to_input(people[..., :2]), invert_affine(affine)) * found[..., None]
        return kps.astype(np.float32), people[..., 2], person_scores


def predict_coco(estimator: BottomUpEstimator, coco, flip: bool = False, scales: Sequence[float] = (1.0,)
                 ) -> list[dict]:
    """COCO results of a bottom-up estimator on every image of a :class:`~posekit.data.coco.CocoKeypoints`
    (one result per person found, ``score`` = the person's grouping score; ``flip``: flip test;
    ``scales``: multi-scale test, see :meth:`BottomUpEstimator.maps`)."""
    from ..data.coco import read_image
    from .topdown import _result

    results = []
    for image_id, info in coco.images.items():
        kps, scores, person_scores = estimator(read_image(info.path), flip, scales)
        for k, s, score in zip(kps, scores, person_scores):
            result = _result(image_id, k, s, [0, 0, 0, 0])
            result["score"] = float(score)
            results.append(result)
    return results
