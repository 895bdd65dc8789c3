"""Can a top-down LSP model's misses be fixed at decoding time, from the other peaks of its own heatmaps?

    python benchmarks/lsp_second_peaks.py MODEL [--cache runs/second_peaks.npz] [--weights 0 0.1 0.2 0.3 0.5]
                                              [--candidates 3] [--threads 2]

Two measurements on LSPET test (im08501-im09500, tight visible-joint boxes, flip test, PCK@0.2 torso):
1. Headroom: for each joint, how many misses would be hits if the decoder took the highest local maximum at least
   ``--radius`` cells from the argmax instead (an oracle that knows which joints to move).
2. A decoder that chooses among each joint's ``--candidates`` highest local maxima jointly for the six joints of the
   legs and, separately, of the arms: score = sum of log map values + weight x sum of log priors of the
   displacements along the limbs, across the two sides (hip-hip, knee-knee, ankle-ankle, ...) and from the neck to
   the hips or shoulders. The priors are smoothed histograms of those displacements in heatmap cells of the LSPET
   *training* people, cropped as the test people are. Weight 0 is the plain argmax. Rows give the whole split and
   its halves, so a weight picked on one half can be checked on the other.
The heatmaps (flip-averaged, fp16) are cached in ``--cache`` so reruns only redo the decoding.
"""
from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from common import SHARED_DATA, table

LEGS = ([2, 1, 0, 3, 4, 5], [(2, 1), (1, 0), (3, 4), (4, 5), (2, 3), (1, 4), (0, 5), (12, 2), (12, 3)])
ARMS = ([8, 7, 6, 9, 10, 11], [(8, 7), (7, 6), (9, 10), (10, 11), (8, 9), (7, 10), (6, 11), (12, 8), (12, 9)])
REACH = 47  # largest displacement a prior covers, in cells


def heatmaps_of(model: str, gt, cache: Path):
    """Flip-averaged heatmaps (N,K,h,w) float32, affines (N,2,3) and annotation ids (N,) of the test people."""
    if cache.exists():
        z = np.load(cache)
        return z["heatmaps"].astype(np.float32), z["affines"], z["annotation_id"]
    from posekit.data.topdown import TopDownDataset
    from posekit.inference.topdown import TopDownEstimator, average_heatmaps, scaled_batches

    estimator = TopDownEstimator.load(model)
    estimator.model.eval()
    dataset = TopDownDataset(gt, estimator.codec, None, estimator.padding)
    maps, affines, ids = [], [], []
    for (batch,) in scaled_batches(dataset, (1.0,), 32):
        maps.append(average_heatmaps(estimator.model, estimator.codec, [batch["image"]], [batch["affine"].numpy()],
                                     dataset.skeleton.flip_index, True, estimator.mean, estimator.std).half().numpy())
        affines.append(batch["affine"].numpy())
        ids.append(batch["annotation_id"].numpy())
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, heatmaps=np.concatenate(maps), affines=np.concatenate(affines), annotation_id=np.concatenate(ids))
    return heatmaps_of(model, gt, cache)


def displacement_priors(train, codec, padding: float, edges, smooth: float = 1.5, floor: float = 1e-4) -> dict:
    """Log density (2R+1, 2R+1) of the displacement b - a in heatmap cells for each edge (a, b), indexed [dy, dx]."""
    from scipy.ndimage import gaussian_filter

    from posekit.data.transforms import apply_affine, box_to_centre_scale, crop_matrix

    w, h = codec.input_size
    cells = []
    for p in train.trainable_people():
        centre, scale = box_to_centre_scale(p.bbox, w / h, padding)
        xy = apply_affine(p.keypoints[:, :2].astype(np.float64), crop_matrix(centre, scale, 0.0, (w, h)))
        cells.append(np.where((p.keypoints[:, 2] > 0)[:, None], codec.to_heatmap(xy), np.nan))
    cells = np.stack(cells)
    priors = {}
    for a, b in edges:
        d = cells[:, b] - cells[:, a]
        d = d[np.isfinite(d).all(1)]
        hist, _, _ = np.histogram2d(d[:, 1], d[:, 0], bins=2 * REACH + 1, range=[[-REACH - 0.5, REACH + 0.5]] * 2)
        hist = gaussian_filter(hist, smooth)
        priors[(a, b)] = np.log(hist / hist.sum() + floor)
    return priors


def local_maxima(maps, n: int):
    """maps (N,K,h,w) tensor -> integer cells (N,K,n,2) and values (N,K,n) of the n highest local maxima (padded
    with the highest when a map has fewer)."""
    import torch
    import torch.nn.functional as F

    peak = (maps == F.max_pool2d(maps, 3, 1, 1)) & (maps > 0)
    values, index = torch.where(peak, maps, torch.full_like(maps, -1.0)).flatten(2).topk(n, -1)
    xy = torch.stack([index % maps.shape[-1], index // maps.shape[-1]], -1)
    missing = values < 0
    xy = torch.where(missing[..., None], xy[:, :, :1].expand_as(xy), xy)
    values = torch.where(missing, values[:, :, :1].expand_as(values), values)
    return xy.numpy(), values.numpy()


def structured_cells(maps, argmax: np.ndarray, n: int, weight: float, priors: dict, floor: float = 1e-3):
    """Integer cells (N,K,2): the argmax, with the legs' and the arms' six joints each chosen jointly among their
    n highest local maxima (see the module docstring)."""
    xy, values = local_maxima(maps, n)
    cells = argmax.copy()
    rows = np.arange(len(cells))
    for joints, edges in (LEGS, ARMS):
        combos = np.array(list(itertools.product(range(n), repeat=len(joints))))  # (C, 6)
        where = {j: xy[:, j][:, combos[:, t]] for t, j in enumerate(joints)}  # (N,C,2)
        score = sum(np.log(np.maximum(values[:, j][:, combos[:, t]], floor)) for t, j in enumerate(joints))
        for a, b in edges:
            start = where[a] if a in where else argmax[:, a][:, None]
            d = np.clip(where[b] - start, -REACH, REACH) + REACH
            score = score + weight * priors[(a, b)][d[..., 1], d[..., 0]]
        best = score.argmax(1)
        for j in joints:
            cells[:, j] = where[j][rows, best]
    return cells


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", help="zoo name or weights path of a top-down lsp14 model")
    ap.add_argument("--cache", default="runs/second_peaks.npz", help="heatmap cache (written if missing)")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3, 0.5])
    ap.add_argument("--candidates", type=int, default=3, help="local maxima per joint for the joint choice")
    ap.add_argument("--radius", type=float, default=6.0, help="cells from the argmax for the headroom's peak")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    from posekit.codecs.heatmap import argmax_2d, build_codec, dark_offset
    from posekit.data.coco import load_coco
    from posekit.data.lsp import convert_lsp
    from posekit.data.transforms import apply_affine, invert_affine
    from posekit.metrics.pck import torso_size
    from posekit.io import resolve_model

    torch.set_num_threads(args.threads)
    lsp = SHARED_DATA / "lspet"
    test = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "8501:9500"), images_dir=lsp / "images")
    train = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, "1:8500"), images_dir=lsp / "images")
    sidecar = json.loads(resolve_model(args.model).with_suffix(".json").read_text())
    codec = build_codec(**sidecar["codec"])
    maps, affines, ids = heatmaps_of(args.model, test, Path(args.cache))
    maps = torch.from_numpy(maps)
    by_id = {p.id: p for p in test.people}
    people = [by_id[int(i)] for i in ids]
    kps = np.stack([p.keypoints for p in people])
    torso = torso_size(kps, test.skeleton)
    counted = (kps[..., 2] == 2) & np.isfinite(torso)[:, None]
    halves = np.array([p.image_id <= 9000 for p in people])

    def errors(cells: np.ndarray) -> np.ndarray:
        """(N,K) errors in torso lengths of integer cells refined with DARK and mapped to image pixels."""
        cells = torch.as_tensor(cells, dtype=torch.float32)
        crop = codec.to_input(cells + dark_offset(maps, cells, codec.sigma)).numpy().astype(np.float64)
        image = np.stack([apply_affine(crop[i], invert_affine(affines[i])) for i in range(len(crop))])
        return np.linalg.norm(image - kps[..., :2], axis=-1) / torso[:, None]

    def pck(err: np.ndarray, rows=slice(None)) -> str:
        return f"{100 * ((err <= 0.2) & counted)[rows].sum() / counted[rows].sum():.2f}"

    argmax = argmax_2d(maps)[0].numpy().astype(np.int64)
    base = errors(argmax)
    grid = torch.stack(torch.meshgrid(torch.arange(maps.shape[2]), torch.arange(maps.shape[3]), indexing="ij"), -1)
    far = ((grid.flip(-1)[None, None] - torch.as_tensor(argmax)[:, :, None, None]) ** 2).sum(-1) > args.radius ** 2
    index = torch.where(far, maps, torch.full_like(maps, -1.0)).flatten(2).argmax(-1)
    second = torch.stack([index % maps.shape[3], index // maps.shape[3]], -1).numpy()
    moved = errors(second)
    rows = []
    for k, name in enumerate(test.skeleton.keypoints):
        missed = counted[:, k] & (base[:, k] > 0.2)
        rows.append([name, int(counted[:, k].sum()), int(missed.sum()), int((missed & (moved[:, k] <= 0.2)).sum())])
    missed = counted & (base > 0.2)
    rows.append(["**all**", int(counted.sum()), int(missed.sum()), int((missed & (moved <= 0.2)).sum())])
    print(f"Headroom: misses that the highest peak >= {args.radius:g} cells from the argmax would hit\n")
    print(table(["joint", "joints", "missed", "hit by the other peak"], rows))

    priors = displacement_priors(train, codec, sidecar.get("padding", 1.25), LEGS[1] + ARMS[1])
    rows = []
    for weight in args.weights:
        err = errors(structured_cells(maps, argmax, args.candidates, weight, priors)) if weight else base
        rows.append([f"{weight:g}", pck(err), pck(err, halves), pck(err, ~halves)])
    print(f"\nLegs and arms chosen jointly among {args.candidates} local maxima per joint, by prior weight\n")
    print(table(["prior weight", "PCK@0.2 % (all)", "8501-9000", "9001-9500"], rows))


if __name__ == "__main__":
    main()
