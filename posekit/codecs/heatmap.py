"""Gaussian heatmap codecs: MSRA, UDP and CPM belief maps, plus flip-test fusion.

``encode`` works on one instance in numpy (inside data-loader workers);
``decode`` works on a batch in torch, on whatever device the network ran.
Keypoints are in pixels of the model input crop (pixel centres at integers).

- :class:`MSRAHeatmap` (Xiao et al. 2018): heatmap pixel = input pixel / stride;
  the Gaussian centre is rounded to the heatmap grid unless ``unbiased`` (the
  DARK encoding, Zhang et al. CVPR 2020). Decoding: argmax + a quarter-pixel
  step towards the higher neighbour, or DARK (Taylor expansion of the log of a
  Gaussian-smoothed heatmap).
- :class:`UDPHeatmap` (Huang et al. CVPR 2020): heatmap pixel = input pixel *
  (w-1)/(W-1), so pixel centres and flips map exactly; sub-pixel Gaussian
  centres; DARK decoding.
- :class:`BeliefMapCodec` (Wei et al. CVPR 2016): UDP part maps plus one
  background map b_bg = 1 - max_p b_p, for Convolutional Pose Machines.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


class _HeatmapGrid:
    """Mapping between input-crop pixels and heatmap pixels, given a codec's ``_scale()`` (heatmap px per input px)."""

    def to_heatmap(self, xy: np.ndarray) -> np.ndarray:
        return xy * self._scale()

    def to_input(self, xy: torch.Tensor) -> torch.Tensor:
        return xy / torch.as_tensor(self._scale(), dtype=xy.dtype, device=xy.device)


@dataclass(frozen=True)
class MSRAHeatmap(_HeatmapGrid):
    """Args:
        input_size: (W, H) of the model input in pixels.
        heatmap_size: (w, h) of the heatmaps.
        sigma: Gaussian std in heatmap pixels.
        unbiased: put the Gaussian at the exact sub-pixel centre (DARK encoding).
        decoder: 'quarter' (argmax + quarter offset) or 'dark'.
    """

    input_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] = (48, 64)
    sigma: float = 2.0
    unbiased: bool = False
    decoder: str = "quarter"

    def __post_init__(self):
        if self.decoder not in ("quarter", "dark"):
            raise ValueError(f"decoder must be 'quarter' or 'dark', got {self.decoder!r}")

    # -- coordinate mapping between input crop and heatmap
    def _scale(self) -> np.ndarray:
        return np.array([self.heatmap_size[0] / self.input_size[0], self.heatmap_size[1] / self.input_size[1]])

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """keypoints (K,2) input pixels, visible (K,) -> heatmaps (K,h,w) float32, weights (K,) float32."""
        mu = self.to_heatmap(np.asarray(keypoints, np.float64))
        if not self.unbiased:
            mu = np.floor(mu + 0.5)
        return _gaussian_targets(mu, visible, self.heatmap_size, self.sigma, radius=3 * self.sigma)

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B,K,h,w) -> keypoints (B,K,2) in input pixels, scores (B,K) = peak values."""
        coords, scores = argmax_2d(heatmaps)
        if self.decoder == "dark":
            coords = coords + dark_offset(heatmaps, coords, self.sigma)
        else:
            coords = coords + quarter_offset(heatmaps, coords)
        return self.to_input(coords), scores

    flip_shift = 1  # heatmap pixels the un-flipped map is off by (stride rounding): shifted back in flip_back


@dataclass(frozen=True)
class UDPHeatmap(_HeatmapGrid):
    """Unbiased heatmaps. Args as :class:`MSRAHeatmap`; always sub-pixel, decoded with DARK."""

    input_size: tuple[int, int] = (192, 256)
    heatmap_size: tuple[int, int] = (48, 64)
    sigma: float = 2.0

    def _scale(self) -> np.ndarray:
        return np.array([
            (self.heatmap_size[0] - 1) / (self.input_size[0] - 1),
            (self.heatmap_size[1] - 1) / (self.input_size[1] - 1),
        ])

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        """keypoints (K,2) input pixels, visible (K,) -> heatmaps (K,h,w) float32, weights (K,) float32."""
        mu = self.to_heatmap(np.asarray(keypoints, np.float64))
        return _gaussian_targets(mu, visible, self.heatmap_size, self.sigma, radius=None)

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B,K,h,w) -> keypoints (B,K,2) in input pixels, scores (B,K)."""
        coords, scores = argmax_2d(heatmaps)
        coords = coords + dark_offset(heatmaps, coords, self.sigma)
        return self.to_input(coords), scores

    flip_shift = 0


@dataclass(frozen=True)
class BeliefMapCodec(UDPHeatmap):
    """CPM belief maps: K part maps + 1 background map (last channel)."""

    def encode(self, keypoints: np.ndarray, visible: np.ndarray) -> dict[str, np.ndarray]:
        out = super().encode(keypoints, visible)
        parts = out["heatmaps"] * out["weights"][:, None, None]
        background = 1.0 - parts.max(0, keepdims=True)
        out["heatmaps"] = np.concatenate([out["heatmaps"], background], 0)
        out["weights"] = np.append(out["weights"], np.float32(1.0))
        return out

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().decode(heatmaps[:, :-1])


def _gaussian_targets(mu: np.ndarray, visible: np.ndarray, size: tuple[int, int], sigma: float, radius: float | None):
    """Separable Gaussians at ``mu`` (K,2) heatmap pixels; zero beyond ``radius`` if given."""
    w, h = size
    mu32 = mu.astype(np.float32)
    dx = np.arange(w, dtype=np.float32)[None, :] - mu32[:, :1]
    dy = np.arange(h, dtype=np.float32)[None, :] - mu32[:, 1:]
    gx = np.exp(dx * dx * np.float32(-0.5 / sigma**2))
    gy = np.exp(dy * dy * np.float32(-0.5 / sigma**2))
    if radius is not None:
        gx[np.abs(dx) > radius] = 0
        gy[np.abs(dy) > radius] = 0
    inside = (mu[:, 0] >= -0.5) & (mu[:, 0] <= w - 0.5) & (mu[:, 1] >= -0.5) & (mu[:, 1] <= h - 0.5)
    weights = (np.asarray(visible) > 0) & inside & np.isfinite(mu).all(1)
    gy[~weights] = 0
    heatmaps = gy[:, :, None] * gx[:, None, :]
    return {"heatmaps": heatmaps, "weights": weights.astype(np.float32)}


# ----------------------------------------------------------------------------- batched decoding
def argmax_2d(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,K,h,w) -> integer peak coordinates (B,K,2) as float (x, y) and peak values (B,K).

    On CPU the argmax runs in numpy on the same memory (no copy): torch's CPU argmax
    is several times slower than numpy's on this shape; on other devices it stays in torch.
    """
    b, k, h, w = heatmaps.shape
    flat = heatmaps.detach().reshape(b, k, h * w)
    if flat.device.type == "cpu":
        idx = torch.from_numpy(flat.numpy().argmax(-1))
    else:
        idx = flat.argmax(-1)
    scores = torch.take(flat, idx + torch.arange(b * k, device=flat.device).view(b, k) * (h * w))
    coords = torch.stack([idx % w, torch.div(idx, w, rounding_mode="floor")], -1).to(heatmaps.dtype)
    return coords, scores


def _neighbour(heatmaps: torch.Tensor, coords: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Value at peak + (dx, dy), clamped to the map: (B,K)."""
    b, k, h, w = heatmaps.shape
    x = (coords[..., 0].long() + dx).clamp(0, w - 1)
    y = (coords[..., 1].long() + dy).clamp(0, h - 1)
    base = torch.arange(b * k, device=heatmaps.device).view(b, k) * (h * w)
    return torch.take(heatmaps.detach(), base + y * w + x)


def quarter_offset(heatmaps: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """The classic refinement: a 0.25-pixel step towards the higher neighbour in x and in y. (B,K,2)."""
    ox = torch.sign(_neighbour(heatmaps, coords, 1, 0) - _neighbour(heatmaps, coords, -1, 0))
    oy = torch.sign(_neighbour(heatmaps, coords, 0, 1) - _neighbour(heatmaps, coords, 0, -1))
    return 0.25 * torch.stack([ox, oy], -1)


def _gaussian_kernel(sigma: float, radius: int, dtype, device) -> torch.Tensor:
    t = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


def _band_matrices(sigma: float, radius: int, dtype, device) -> torch.Tensor:
    """(radius+1, 2*radius+3, 3): for each smoothing radius rho, the matrix that smooths a
    (2*radius+3)-long line into its 3 central values with a Gaussian of std min(sigma, rho/3)."""
    size = 2 * radius + 3
    bands = torch.zeros(radius + 1, size, 3, dtype=dtype, device=device)
    for rho in range(radius + 1):
        g = _gaussian_kernel(min(sigma, rho / 3), rho, dtype, device) if rho else torch.ones(1, dtype=dtype, device=device)
        for j in range(3):
            start = radius - rho + j
            bands[rho, start : start + 2 * rho + 1, j] = g
    return bands


def dark_offset(heatmaps: torch.Tensor, coords: torch.Tensor, sigma: float) -> torch.Tensor:
    """DARK sub-pixel offset (B,K,2): -H^-1 g of the log of the Gaussian-smoothed heatmap at the peak.

    Only the window around each peak is smoothed (radius r = ceil(3 sigma)), which
    gives the same 3x3 values as smoothing the whole map at a fraction of the cost.
    Near the border the smoothing radius shrinks (per axis) so that it never reads
    outside the map: padding (zero, replicate or reflect) would pull the peak by
    up to a pixel, while a narrower Gaussian keeps a Gaussian peak where it is.
    Offsets are clamped to [-1, 1] pixel.
    """
    b, k, h, w = heatmaps.shape
    r = int(math.ceil(3 * sigma))
    p = r + 1
    size = 2 * p + 1
    cx = coords[..., 0].reshape(-1).long()
    cy = coords[..., 1].reshape(-1).long()
    steps = torch.arange(-p, p + 1, device=heatmaps.device)
    rows = (cy[:, None] + steps[None, :]).clamp(0, h - 1)  # clamped indices = replicate border
    cols = (cx[:, None] + steps[None, :]).clamp(0, w - 1)
    base = torch.arange(b * k, device=heatmaps.device)[:, None, None] * (h * w)
    patch = torch.take(heatmaps.detach(), base + rows[:, :, None] * w + cols[:, None, :])  # (N, size, size)
    bands = _band_matrices(sigma, r, heatmaps.dtype, heatmaps.device)
    rho_x = torch.minimum(cx - 1, w - 2 - cx).clamp(0, r)
    rho_y = torch.minimum(cy - 1, h - 2 - cy).clamp(0, r)
    smooth = bands[rho_y].transpose(1, 2) @ patch @ bands[rho_x]  # (N, 3, 3): rows y-1..y+1, cols x-1..x+1
    logm = smooth.clamp_min(1e-10).log()
    dx = 0.5 * (logm[:, 1, 2] - logm[:, 1, 0])
    dy = 0.5 * (logm[:, 2, 1] - logm[:, 0, 1])
    dxx = logm[:, 1, 2] - 2 * logm[:, 1, 1] + logm[:, 1, 0]
    dyy = logm[:, 2, 1] - 2 * logm[:, 1, 1] + logm[:, 0, 1]
    dxy = 0.25 * (logm[:, 2, 2] - logm[:, 0, 2] - logm[:, 2, 0] + logm[:, 0, 0])
    det = dxx * dyy - dxy * dxy
    ok = det.abs() > 1e-12
    safe = torch.where(ok, det, torch.ones_like(det))
    ox = -(dyy * dx - dxy * dy) / safe
    oy = -(dxx * dy - dxy * dx) / safe
    offset = torch.stack([ox, oy], -1) * ok[:, None]
    return offset.clamp(-1, 1).reshape(b, k, 2)


# ----------------------------------------------------------------------------- flip test
def flip_back(heatmaps: torch.Tensor, flip_index, shift: int = 0) -> torch.Tensor:
    """Undo a horizontal flip of the input on its heatmaps (B,K,h,w): mirror, swap left/right channels.

    ``shift`` moves the mirrored maps right by that many pixels (MSRA maps need 1;
    UDP maps are exact with 0).
    """
    out = heatmaps.flip(-1)[:, torch.as_tensor(flip_index, device=heatmaps.device, dtype=torch.long)]
    if shift:
        out = torch.cat([out[..., :shift], out[..., :-shift]], -1)
    return out


@torch.no_grad()
def flip_test(model, images: torch.Tensor, flip_index, shift: int = 0) -> torch.Tensor:
    """Average the model's heatmaps on the images and on their mirror images (un-flipped). (B,K,h,w)."""
    both = model(torch.cat([images, images.flip(-1)], 0))
    if isinstance(both, (list, tuple)):
        both = both[-1]
    plain, mirrored = both.chunk(2, 0)
    return 0.5 * (plain + flip_back(mirrored, flip_index, shift))


def _codecs() -> dict:
    from .paf import PAFCodec

    return {"msra": MSRAHeatmap, "udp": UDPHeatmap, "belief": BeliefMapCodec, "paf": PAFCodec}


CODECS = _codecs()


def build_codec(kind: str, **params):
    """Construct a codec by its short name with its dataclass fields (lists become tuples)."""
    if kind not in CODECS:
        raise ValueError(f"unknown codec {kind!r}; known: {', '.join(CODECS)}")
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return CODECS[kind](**params)


def codec_to_dict(codec) -> dict:
    """Inverse of :func:`build_codec` for sidecars."""
    from dataclasses import asdict

    kind = {v: k for k, v in CODECS.items()}[type(codec)]
    return {"kind": kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(codec).items()}}
