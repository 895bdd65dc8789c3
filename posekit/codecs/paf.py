"""Part Affinity Field targets for bottom-up pose estimation (OpenPose).

Cao, Simon, Wei, Sheikh. "Realtime Multi-Person 2D Pose Estimation using Part
Affinity Fields", CVPR 2017; Cao, Hidalgo, Simon, Wei, Sheikh, TPAMI 2019.

:class:`PAFCodec` turns the people of one image into the network's targets, in
numpy (inside data-loader workers). Keypoints arrive in pixels of the model input
(pixel centres at integers) and are mapped onto the heatmap grid with the unbiased
(UDP) scale ``x_hm = x_in * (w-1)/(W-1)``, as :class:`~posekit.codecs.heatmap.UDPHeatmap`.
Lengths (``sigma``, ``limb_width``) are in heatmap pixels.

- Confidence maps, one per keypoint type j, max over people k::

      S*_j(p) = max_k exp(-||p - x_{j,k}||^2 / sigma^2)

  The paper writes sigma^2, not 2 sigma^2, and so does this codec: ``sigma`` is
  sqrt(2) times the standard deviation of the Gaussian. No background channel: it
  is not part of the paper's formulation (the released Caffe models add one as a
  training aid), and grouping never reads it.
- Part affinity fields, two channels (x, y) per limb c = (j1, j2)::

      L*_{c,k}(p) = v = (x_{j2,k} - x_{j1,k}) / ||x_{j2,k} - x_{j1,k}||   if p is on limb c of person k
                  = 0                                                  otherwise
      on the limb:  0 <= v . (p - x_{j1,k}) <= l_{c,k}  and  |v_perp . (p - x_{j1,k})| <= sigma_l
      L*_c(p) = 1/n_c(p) sum_k L*_{c,k}(p),   n_c(p) = number of people with a non-zero vector at p

  A limb needs both end points labelled (v > 0) and a positive length.
- Loss mask W(p): 0 where annotations are missing (crowd regions, people without
  keypoints), 1 elsewhere. Those regions are given to :meth:`PAFCodec.encode` as
  ``ignore``: polygons in input pixels (COCO segmentation or boxes, see
  :func:`ignore_polygons`) or an (H, W) boolean mask of the input.

Grouping (the inverse direction) lives in :mod:`posekit.inference.bottomup`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..skeletons import get_skeleton

_SUBPIXEL_BITS = 8  # cv2.fillPoly fixed-point precision for polygon vertices


@dataclass(frozen=True)
class PAFCodec:
    """Args:
        input_size: (W, H) of the model input in pixels.
        heatmap_size: (w, h) of the output maps (stride 8 in the paper: 368 -> 46).
        sigma: confidence-map spread in heatmap pixels, as in exp(-d^2 / sigma^2).
        limb_width: sigma_l, half-width of a limb in heatmap pixels.
        skeleton: keypoint set name; its ``links`` are the limbs unless ``links`` is given.
        links: (j1, j2) keypoint index pairs, one PAF (2 channels) each, in channel order.
    """

    input_size: tuple[int, int] = (368, 368)
    heatmap_size: tuple[int, int] = (46, 46)
    sigma: float = 1.5
    limb_width: float = 1.0
    skeleton: str = "coco17"
    links: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self):
        # tuples from JSON lists, so a sidecar's codec dict rebuilds an equal (hashable) codec
        object.__setattr__(self, "input_size", tuple(self.input_size))
        object.__setattr__(self, "heatmap_size", tuple(self.heatmap_size))
        if self.links is not None:
            object.__setattr__(self, "links", tuple(tuple(int(i) for i in link) for link in self.links))
        k = self.num_keypoints
        bad = [link for link in self.limbs if not (0 <= link[0] < k and 0 <= link[1] < k and link[0] != link[1])]
        if bad:
            raise ValueError(f"links {bad} are not pairs of distinct keypoints of {self.skeleton} ({k} keypoints)")

    @property
    def limbs(self) -> tuple[tuple[int, int], ...]:
        """The (j1, j2) pairs in PAF channel order: limb c owns channels 2c (x) and 2c+1 (y)."""
        return self.links if self.links is not None else get_skeleton(self.skeleton).links

    @property
    def num_keypoints(self) -> int:
        return get_skeleton(self.skeleton).num_keypoints

    # -- coordinate mapping between model input and heatmap (UDP)
    def _scale(self) -> np.ndarray:
        return np.array([
            (self.heatmap_size[0] - 1) / (self.input_size[0] - 1),
            (self.heatmap_size[1] - 1) / (self.input_size[1] - 1),
        ])

    def to_heatmap(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) input pixels -> heatmap pixels."""
        return np.asarray(xy, np.float64) * self._scale()

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) heatmap pixels -> input pixels."""
        return np.asarray(xy, np.float64) / self._scale()

    # -- flip test
    def flip_back(self, heatmaps: np.ndarray, pafs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Maps (K,h,w), (2C,h,w) predicted on the mirrored input -> maps of the input itself.

        Mirror x -> (w-1) - x (exact under UDP), swap left/right keypoint channels, and for
        limb c = (a, b) take the mirrored limb (flip(a), flip(b)) with its x component negated
        (or the reversed limb (flip(b), flip(a)), whole vector negated, where only that one
        exists).
        """
        flip = get_skeleton(self.skeleton).flip_index
        source, sign = limb_mirror(self.limbs, flip)
        heatmaps = heatmaps[flip, :, ::-1]
        vectors = pafs.reshape(-1, 2, *pafs.shape[1:])[source, :, :, ::-1]
        vectors = vectors * (sign[:, None] * np.array([-1.0, 1.0], np.float32)[None, :])[..., None, None]
        return np.ascontiguousarray(heatmaps), np.ascontiguousarray(vectors.reshape(pafs.shape), np.float32)

    # -- targets
    def encode(self, keypoints: np.ndarray, ignore=None) -> dict[str, np.ndarray]:
        """Targets of one image.

        Args:
            keypoints: (P, K, 3) people's x, y in input pixels and visibility v
                (v > 0: labelled). People with no labelled keypoint add nothing;
                give their region in ``ignore``.
            ignore: regions without annotations: an (H, W) bool mask of the input,
                or a sequence of polygons ((N, 2) arrays or flat [x1, y1, ...]
                lists) in input pixels, or None.
        Returns:
            ``heatmaps`` (K, h, w), ``pafs`` (2C, h, w), ``mask`` (h, w) W(p) in {0, 1}; float32.
        """
        kps = np.asarray(keypoints, np.float64).reshape(-1, self.num_keypoints, 3)
        xy = self.to_heatmap(kps[..., :2])
        labelled = (kps[..., 2] > 0) & np.isfinite(xy).all(-1)
        return {
            "heatmaps": self._confidence_maps(xy, labelled),
            "pafs": self._pafs(xy, labelled),
            "mask": self._mask(ignore),
        }

    def _grid(self) -> tuple[np.ndarray, np.ndarray]:
        w, h = self.heatmap_size
        return np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)

    def _confidence_maps(self, xy: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        """xy (P,K,2) heatmap pixels, labelled (P,K) -> S* (K,h,w): separable Gaussians, max over people."""
        w, h = self.heatmap_size
        xs, ys = self._grid()
        inv = -1.0 / self.sigma**2
        gx = np.exp((xs - np.where(labelled, xy[..., 0], np.inf)[..., None]) ** 2 * inv)  # (P,K,w); 0 if unlabelled
        gy = np.exp((ys - np.where(labelled, xy[..., 1], np.inf)[..., None]) ** 2 * inv)  # (P,K,h)
        maps = np.zeros((xy.shape[1], h, w), np.float32)
        for p in range(len(xy)):  # one person at a time keeps memory at (K,h,w)
            np.maximum(maps, (gy[p, :, :, None] * gx[p, :, None, :]).astype(np.float32), out=maps)
        return maps

    def _pafs(self, xy: np.ndarray, labelled: np.ndarray) -> np.ndarray:
        """xy (P,K,2), labelled (P,K) -> L* (2C,h,w): unit limb vectors averaged over the people at each pixel."""
        w, h = self.heatmap_size
        limbs = np.asarray(self.limbs, np.int64).reshape(-1, 2)
        d = xy[:, limbs[:, 1]] - xy[:, limbs[:, 0]]  # (P,C,2)
        length = np.hypot(d[..., 0], d[..., 1])
        person, limb = np.nonzero(labelled[:, limbs[:, 0]] & labelled[:, limbs[:, 1]] & (length > 1e-6))  # M limbs
        start, length = xy[person, limbs[limb, 0]], length[person, limb]  # (M,2), (M,)
        v = d[person, limb] / length[:, None]  # unit vectors (M,2)
        xs, ys = self._grid()
        rx = xs[None, None, :] - start[:, 0, None, None]  # (M,1,w)
        ry = ys[None, :, None] - start[:, 1, None, None]  # (M,h,1)
        along = v[:, 0, None, None] * rx + v[:, 1, None, None] * ry  # v . (p - x_j1)      (M,h,w)
        across = v[:, 0, None, None] * ry - v[:, 1, None, None] * rx  # v_perp . (p - x_j1)
        on = (along >= 0) & (along <= length[:, None, None]) & (np.abs(across) <= self.limb_width)
        # per limb type c: n_c(p) and sum_k L*_{c,k}(p), as one product with the (3C, M) weights
        one_hot = (limb[None, :] == np.arange(len(limbs))[:, None]).astype(np.float32)
        weights = np.concatenate([one_hot, one_hot * v[:, 0], one_hot * v[:, 1]]).astype(np.float32)
        count, sum_x, sum_y = np.split(weights @ on.reshape(len(on), h * w).astype(np.float32), 3)
        pafs = np.stack([sum_x, sum_y], 1) / np.maximum(count, 1)[:, None]  # (C,2,h*w)
        return pafs.reshape(-1, h, w).astype(np.float32)

    def _mask(self, ignore) -> np.ndarray:
        """W(p) (h,w): 0 inside the ignored regions, sampled at heatmap pixel centres."""
        w, h = self.heatmap_size
        if ignore is None:
            return np.ones((h, w), np.float32)
        if isinstance(ignore, np.ndarray) and ignore.ndim == 2 and ignore.dtype == bool:
            big_w, big_h = self.input_size
            if ignore.shape != (big_h, big_w):
                raise ValueError(f"ignore mask must be (H, W) = {(big_h, big_w)} of the input, got {ignore.shape}")
            xs, ys = self._grid()
            src = self.to_input(np.stack(np.broadcast_arrays(xs[None, :], ys[:, None]), -1))
            col = np.clip(np.rint(src[..., 0]).astype(np.int64), 0, big_w - 1)
            row = np.clip(np.rint(src[..., 1]).astype(np.int64), 0, big_h - 1)
            return (~ignore[row, col]).astype(np.float32)
        covered = np.zeros((h, w), np.uint8)
        polys = [np.rint(self.to_heatmap(np.asarray(p, np.float64).reshape(-1, 2)) * (1 << _SUBPIXEL_BITS))
                 .astype(np.int32) for p in ignore]
        polys = [p for p in polys if len(p) >= 3]
        if polys:
            cv2.fillPoly(covered, polys, 1, lineType=cv2.LINE_8, shift=_SUBPIXEL_BITS)
        return (1 - covered).astype(np.float32)


def limb_mirror(limbs, flip_index) -> tuple[np.ndarray, np.ndarray]:
    """For each limb c = (a, b): the channel of its mirror image and the sign of its vector.

    Returns source (C,) and sign (C,) float32: limbs[source[c]] is (flip[a], flip[b]) with
    sign +1, else (flip[b], flip[a]) with sign -1. A limb whose mirror image is not a limb
    has no flip test: ValueError.
    """
    index = {tuple(link): c for c, link in enumerate(limbs)}
    source, sign = [], []
    for c, (a, b) in enumerate(limbs):
        fa, fb = int(flip_index[a]), int(flip_index[b])
        if (fa, fb) in index:
            source.append(index[fa, fb]), sign.append(1.0)
        elif (fb, fa) in index:
            source.append(index[fb, fa]), sign.append(-1.0)
        else:
            raise ValueError(f"limb {c} = ({a}, {b}) has no mirror image among the limbs: no flip test")
    return np.array(source, np.int64), np.array(sign, np.float32)


def ignore_polygons(boxes: np.ndarray, segmentations: Sequence | None = None) -> list[np.ndarray]:
    """Regions for ``PAFCodec.encode(..., ignore=...)`` in image pixels.

    Args:
        boxes: (N, 4) x, y, w, h of the unannotated people (crowd records and people
            with ``num_keypoints == 0``).
        segmentations: per person, its COCO polygon list (``[[x1, y1, ...], ...]``)
            or None to fall back on the box. RLE masks are not polygons: pass None
            (or rasterise them into the (H, W) mask form instead).
    Returns:
        A list of (N_i, 2) float arrays; transform them with the sample's affine
        (``posekit.data.transforms.apply_affine``) before encoding.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    segmentations = segmentations if segmentations is not None else [None] * len(boxes)
    polys = []
    for (x, y, bw, bh), seg in zip(boxes, segmentations):
        if isinstance(seg, list) and seg:
            polys += [np.asarray(s, np.float64).reshape(-1, 2) for s in seg]
        else:
            polys.append(np.array([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]]))
    return polys
