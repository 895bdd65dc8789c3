"""``posekit predict`` / ``posekit demo`` / ``posekit eval --model`` as Python functions."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from .data.coco import AnnotationError, load_coco, read_image
from .inference.topdown import TopDownEstimator, _result, predict_dataset
from .vis import draw_pose, save_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def collect_images(inputs: list[str]) -> list[Path]:
    """Image files from files and folders (folders: their images, sorted)."""
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{p}: folder has no images ({', '.join(IMAGE_SUFFIXES)})")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image file or folder")
    return files


def read_boxes(path: str | Path) -> list[dict]:
    """COCO detection results ``[{image_id or file_name, bbox: [x,y,w,h], score}]``, validated."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise AnnotationError(f"{path}: cannot read boxes: {e}") from None
    if not isinstance(data, list):
        raise AnnotationError(f"{path}: boxes must be a JSON list of detections")
    for i, d in enumerate(data):
        if not isinstance(d, dict) or "bbox" not in d or ("image_id" not in d and "file_name" not in d):
            raise AnnotationError(f"{path}: detection #{i}: needs 'bbox' and 'image_id' or 'file_name'")
        b = d["bbox"]
        if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)
                and np.isfinite(b).all() and b[2] > 0 and b[3] > 0):
            raise AnnotationError(f"{path}: detection #{i}: bbox must be [x, y, w, h] with w, h > 0, got {b!r}")
    return data


def load_estimator(model: str, device: str = "cpu"):
    """A top-down or bottom-up estimator, as the model's sidecar ``task`` says."""
    from .io import load_model

    net, sidecar = load_model(model, device)
    if sidecar.get("task") == "bottomup":
        from .inference.bottomup import BottomUpEstimator

        return BottomUpEstimator(net, sidecar)
    return TopDownEstimator(net, sidecar)


def predict(inputs: list[str], model: str = "default", out_dir: str | Path = "outputs/predict",
            boxes: str | None = None, flip: bool = False, device: str = "cpu", estimator=None) -> dict:
    """Run a model on images; writes ``predictions.json`` and an overlay PNG per image.

    Top-down models take person boxes (``boxes``; default: each whole image is one
    person). Bottom-up models find every person themselves and refuse ``boxes``.
    Returns a summary dict.
    """
    estimator = estimator or load_estimator(model, device)
    bottom_up = not isinstance(estimator, TopDownEstimator)
    if bottom_up and boxes:
        raise ValueError(f"model {model!r} is bottom-up: it finds people itself and takes no --boxes")
    files = collect_images(inputs)
    detections = read_boxes(boxes) if boxes else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, overlays = [], []
    for image_id, path in enumerate(files, 1):
        image = read_image(path)
        h, w = image.shape[:2]
        if bottom_up:
            kps, scores, person_scores = estimator(image, flip)
            person_boxes = [_keypoint_box(k, s) for k, s in zip(kps, scores)]
        else:
            if detections is None:
                person_boxes = [[0.0, 0.0, float(w), float(h)]]
            else:
                person_boxes = [d["bbox"] for d in detections
                                if Path(str(d.get("file_name", ""))).name == path.name
                                or (not d.get("file_name") and d.get("image_id") == image_id)]
            kps, scores = estimator(image, person_boxes, flip=flip)
            person_scores = scores.mean(1) if len(scores) else []
        canvas = image
        for box, k, s, score in zip(person_boxes, kps, scores, person_scores):
            result = _result(image_id, k, s, box, file_name=path.name)
            result["score"] = float(score)
            results.append(result)
            canvas = draw_pose(canvas, k, s, estimator.skeleton, box=box if detections else None)
        overlay = out_dir / f"{path.stem}_pose.png"
        save_rgb(overlay, canvas)
        overlays.append(str(overlay))
    (out_dir / "predictions.json").write_text(json.dumps(results))
    return {"predictions": str(out_dir / "predictions.json"), "overlays": overlays, "people": len(results)}


def _keypoint_box(keypoints: np.ndarray, scores: np.ndarray) -> list[float]:
    """xywh box around the found keypoints (score > 0) of one person."""
    found = keypoints[scores > 0]
    if not len(found):
        return [0.0, 0.0, 0.0, 0.0]
    (x0, y0), (x1, y1) = found.min(0), found.max(0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def evaluate_model(model: str, gt: str, images: str, flip: bool = False, metric: str = "pck",
                   device: str = "cpu", batch_size: int = 32, limit: int | None = None) -> tuple[dict, list[dict]]:
    """Run a model on ``gt`` and score it: a top-down model on the ground-truth person boxes,
    a bottom-up model on the whole images (``limit``: that many images)."""
    from .data.topdown import TopDownDataset
    from .metrics import evaluate

    estimator = load_estimator(model, device)
    coco = load_coco(gt, images_dir=images, skeleton=estimator.skeleton)
    if not isinstance(estimator, TopDownEstimator):
        from .inference.bottomup import predict_coco

        coco = coco.first_images(limit)
        results = predict_coco(estimator, coco, flip)
        return evaluate(coco, results, metric), results
    if limit is not None:  # score only the people we predict
        coco = dataclasses.replace(coco, people=coco.trainable_people()[:limit])
    dataset = TopDownDataset(coco, estimator.codec, None, estimator.padding)
    results = predict_dataset(estimator.model, dataset, flip=flip, batch_size=batch_size,
                              mean=estimator.mean, std=estimator.std)
    return evaluate(coco, results, metric), results
