"""``posekit demo``: the bundled default model on sample photos shipped with scikit-image.

If no model is bundled (a fresh checkout before training), it instead draws
annotated LSPET samples and their training targets, when ../shared/data is present.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .vis import save_rgb

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def sample_images(folder: Path) -> list[Path]:
    """Write the sample photos (scikit-image's astronaut and cameraman) as PNGs; returns their paths."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in (("astronaut", data.astronaut()), ("cameraman", data.camera())):
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, 2)
        path = folder / f"{name}.png"
        save_rgb(path, image)
        paths.append(path)
    return paths


def run_demo(out: str | Path = "outputs/demo", model: str = "default") -> list[str]:
    """Returns the lines to print."""
    from .io import resolve_model

    out = Path(out)
    try:
        weights = resolve_model(model)
    except FileNotFoundError:
        return draw_training_targets(out) + [f"(no model {model!r} bundled yet: drew training targets instead)"]
    from .predict import predict

    images = sample_images(out / "inputs")
    summary = predict([str(p) for p in images], model, out, flip=True)
    alias = "" if weights.stem == model else f" ({weights.stem})"
    return [f"ran model {model!r}{alias} on {len(images)} sample photos",
            f"predictions: {summary['predictions']}"] + [f"overlay:     {p}" for p in summary["overlays"]]


def draw_training_targets(out: Path, count: int = 6) -> list[str]:
    """Draw LSPET samples (annotation + augmented crop + heatmap targets) to PNGs."""
    import cv2

    from .codecs.heatmap import UDPHeatmap
    from .data.coco import load_coco
    from .data.lsp import convert_lsp
    from .data.topdown import Augment, TopDownDataset
    from .skeletons import LSP14
    from .vis import draw_pose, heatmap_overlay

    lsp = SHARED_DATA / "lspet"
    if not lsp.is_dir():
        return [f"no bundled model and no LSPET data at {lsp}: nothing to draw"]
    coco = load_coco(convert_lsp(lsp / "joints.mat", lsp / "images", None, f"1:{count}"), images_dir=lsp / "images")
    dataset = TopDownDataset(coco, UDPHeatmap((192, 256), (48, 64), 2.0), Augment())
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, person in enumerate(dataset.people):
        image = cv2.cvtColor(cv2.imread(str(coco.images[person.image_id].path)), cv2.COLOR_BGR2RGB)
        annotated = draw_pose(image, person.keypoints[:, :2], (person.keypoints[:, 2] > 0).astype(float), LSP14,
                              threshold=0.5, show_scores=False, box=person.bbox)
        sample = dataset[i]
        crop = sample["image"].numpy().transpose(1, 2, 0).copy()
        crop_pose = draw_pose(crop, sample["keypoints"].numpy(), sample["weights"].numpy(), LSP14, 0.5, False)
        targets = heatmap_overlay(crop, sample["heatmaps"].numpy())
        scale = crop.shape[0] / image.shape[0]
        annotated = cv2.resize(annotated, (max(1, round(image.shape[1] * scale)), crop.shape[0]))
        path = out / f"lspet_{person.image_id:05d}_targets.png"
        save_rgb(path, np.concatenate([annotated, crop_pose, targets], 1))
        lines.append(f"wrote {path} (annotation | augmented 256x192 crop | heatmap targets)")
    return lines
