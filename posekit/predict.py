"""``posekit predict`` / ``posekit demo`` / ``posekit eval --model`` as Python functions."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np

from .data.coco import AnnotationError, load_coco, read_image
from .inference.smoothing import OneEuroFilter
from .inference.topdown import TopDownEstimator, _result, check_scales, predict_dataset
from .vis import draw_pose, save_rgb

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def collect_inputs(inputs: list[str]) -> list[Path]:
    """Image and video files from files and folders (folders: their images and videos, sorted)."""
    files = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES)
            if not found:
                raise FileNotFoundError(f"{p}: folder has no images ({', '.join(IMAGE_SUFFIXES)}) "
                                        f"or videos ({', '.join(VIDEO_SUFFIXES)})")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such image, video or folder")
    return files


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


class VideoFrames:
    """The RGB frames (H,W,3 uint8) of a video file, in order; ``fps`` as the file states it (25 if it does not)."""

    def __init__(self, path: Path):
        self.path = path
        self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            raise AnnotationError(f"{path}: cannot read video (not a video file, or a codec OpenCV lacks)")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if np.isfinite(fps) and fps > 0 else 25.0

    def __iter__(self):
        try:
            while True:
                ok, frame = self._capture.read()
                if not ok:
                    return
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        finally:
            self._capture.release()


class VideoOverlay:
    """Writes RGB frames to an MP4 (MPEG-4 part 2, which OpenCV's own FFmpeg always encodes)."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self._writer = path, fps, None

    def write(self, frame_rgb: np.ndarray) -> None:
        if self._writer is None:
            h, w = frame_rgb.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self._writer.isOpened():
                raise OSError(f"{self.path}: could not open the video for writing")
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


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
        frame = d.get("frame", 0)
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise AnnotationError(f"{path}: detection #{i}: frame must be a frame index >= 0, got {frame!r}")
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
            boxes: str | None = None, flip: bool = False, device: str = "cpu", estimator=None,
            smooth: bool = False, scales: tuple[float, ...] = (1.0,)) -> dict:
    """Run a model on images and videos; writes ``predictions.json`` and an overlay per input
    (``<stem>_pose.png`` per image, ``<stem>_pose.mp4`` per video).

    Top-down models take person boxes (``boxes``: COCO detections matched by ``file_name``, plus ``frame``
    (0-based) for a video's frames, a video's detection without one holding for all its frames; else by
    ``image_id``, images and video frames numbered 1.. in the order given). Without ``boxes`` each image is
    one person box; in a video the first frame is, and each later frame's box is the tight box of the
    previous frame's confident keypoints (:func:`track_box`), the framing the LSP models were trained on.
    ``smooth``: that tracked person's keypoints go through a One Euro filter (:func:`track_smoother`).
    ``scales``: the multi-scale test, box-padding multipliers for a top-down model, input-size multipliers for
    a bottom-up one (default: 1, one pass). Bottom-up models find every person themselves and refuse ``boxes``.
    Returns a summary dict.
    """
    estimator = estimator or load_estimator(model, device)
    bottom_up = not isinstance(estimator, TopDownEstimator)
    if bottom_up and boxes:
        raise ValueError(f"model {model!r} is bottom-up: it finds people itself and takes no --boxes")
    check_scales(scales)
    if smooth and (bottom_up or boxes):
        raise ValueError("smoothing follows the one person a top-down model tracks through a video: "
                         "it takes no --boxes and no bottom-up model")
    files = collect_inputs(inputs)
    detections = read_boxes(boxes) if boxes else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, overlays, image_id, frames = [], [], 0, 0

    def estimate(image: np.ndarray, path: Path, frame: int | None = None, tracked: list[float] | None = None):
        """People in one image or video frame (the ``image_id``-th): [(box, keypoints (K,2), scores (K,), score)]."""
        if bottom_up:
            kps, scores, person_scores = estimator(image, flip, scales)
            person_boxes = [_keypoint_box(k, s) for k, s in zip(kps, scores)]
        else:
            if detections is not None:
                person_boxes = [d["bbox"] for d in detections if _matches(d, path, frame, image_id)]
            else:
                h, w = image.shape[:2]
                person_boxes = [tracked or [0.0, 0.0, float(w), float(h)]]
            kps, scores = estimator(image, person_boxes, flip=flip, scales=scales)
            person_scores = scores.mean(1) if len(scores) else []
        return list(zip(person_boxes, kps, scores, person_scores))

    def emit(image: np.ndarray, people: list, where: dict, show_box: bool) -> np.ndarray:
        """Appends the people's results; returns the overlay."""
        canvas = image
        for box, k, s, score in people:
            results.append({**_result(image_id, k, s, box, **where), "score": float(score)})
            canvas = draw_pose(canvas, k, s, estimator.skeleton, box=box if show_box else None)
        return canvas

    for path in files:
        if not is_video(path):
            image_id += 1
            image = read_image(path)
            canvas = emit(image, estimate(image, path), {"file_name": path.name}, detections is not None)
            overlay = out_dir / f"{path.stem}_pose.png"
            save_rgb(overlay, canvas)
            overlays.append(str(overlay))
            continue
        video = VideoFrames(path)
        writer = VideoOverlay(out_dir / f"{path.stem}_pose.mp4", video.fps)
        tracked, smoother, count = None, None, 0
        try:
            for count, image in enumerate(video, 1):
                image_id += 1
                people = estimate(image, path, count - 1, tracked)
                show_box = detections is not None or tracked is not None
                if detections is None and not bottom_up:  # one tracked person
                    box, k, s, score = people[0]
                    tracked = track_box(k, s, image.shape[:2])  # the next frame's box, from raw keypoints
                    if smooth:
                        smoother = smoother or track_smoother(max((tracked or box)[2:]))
                        people = [(box, smoother.filter(k, 1.0 / video.fps), s, score)]
                writer.write(emit(image, people, {"file_name": path.name, "frame": count - 1}, show_box))
        finally:
            writer.close()
        if not count:
            raise AnnotationError(f"{path}: video has no frames that OpenCV can decode")
        frames += count
        overlays.append(str(writer.path))
    (out_dir / "predictions.json").write_text(json.dumps(results))
    return {"predictions": str(out_dir / "predictions.json"), "overlays": overlays, "people": len(results),
            "images": image_id - frames, "frames": frames}


def _keypoint_box(keypoints: np.ndarray, scores: np.ndarray) -> list[float]:
    """xywh box around the found keypoints (score > 0) of one person."""
    found = keypoints[scores > 0]
    if not len(found):
        return [0.0, 0.0, 0.0, 0.0]
    (x0, y0), (x1, y1) = found.min(0), found.max(0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def track_smoother(person_px: float) -> OneEuroFilter:
    """A One Euro filter for a person about ``person_px`` pixels tall (the larger side of its joints' box).

    min_cutoff 1 Hz and beta 15 per person length, i.e. 0.05 / px for a 300 px person: on real motion
    (mocap tracks, a 300 px person) with 3 or 6 px of per-frame noise it cuts the keypoint error from 3.76 to
    2.97 px or 7.53 to 5.05 px, and the jitter about 3x (``python benchmarks/bench_smoothing.py``). Beta scales
    with 1 / size so the filter treats a near and a far person alike."""
    return OneEuroFilter(min_cutoff=1.0, beta=15.0 / max(person_px, 1.0))


def _matches(detection: dict, path: Path, frame: int | None, image_id: int) -> bool:
    """Whether a COCO detection belongs to this image (``frame`` None) or this frame of a video (a video's
    detection without a ``frame`` belongs to all its frames: a fixed region)."""
    if detection.get("file_name"):
        return Path(str(detection["file_name"])).name == path.name and detection.get("frame", frame) == frame
    return detection.get("image_id") == image_id


def track_box(keypoints: np.ndarray, scores: np.ndarray, image_shape: tuple[int, int],
              min_score: float = 0.3, min_joints: int = 4) -> list[float] | None:
    """The next frame's person box from this frame's keypoints (K,2) px and scores (K,): the tight box of the
    joints scoring at least ``min_score``, clipped to the image (H, W). None when fewer than ``min_joints``
    joints qualify (the person is lost: the caller falls back to the whole frame)."""
    h, w = image_shape
    found = np.clip(keypoints[scores >= min_score], 0, [w - 1, h - 1])
    if len(found) < min_joints:
        return None
    (x0, y0), (x1, y1) = found.min(0), found.max(0)
    return [float(x0), float(y0), max(float(x1 - x0), 1.0), max(float(y1 - y0), 1.0)]


def evaluate_model(model: str, gt: str, images: str, flip: bool = False, metric: str = "pck",
                   device: str = "cpu", batch_size: int = 32, limit: int | None = None,
                   scales: tuple[float, ...] = (1.0,)) -> tuple[dict, list[dict]]:
    """Run a model on ``gt`` and score it: a top-down model on the ground-truth person boxes, a bottom-up model on
    the whole images (``limit``: that many images). ``scales``: the multi-scale test (see :func:`predict`)."""
    from .data.topdown import TopDownDataset
    from .metrics import evaluate

    estimator = load_estimator(model, device)
    check_scales(scales)
    coco = load_coco(gt, images_dir=images, skeleton=estimator.skeleton)
    if not isinstance(estimator, TopDownEstimator):
        from .inference.bottomup import predict_coco

        coco = coco.first_images(limit)
        results = predict_coco(estimator, coco, flip, scales)
        return evaluate(coco, results, metric), results
    if limit is not None:  # score only the people we predict
        coco = dataclasses.replace(coco, people=coco.trainable_people()[:limit])
    dataset = TopDownDataset(coco, estimator.codec, None, estimator.padding)
    results = predict_dataset(estimator.model, dataset, flip=flip, batch_size=batch_size,
                              mean=estimator.mean, std=estimator.std, scales=scales)
    return evaluate(coco, results, metric), results
