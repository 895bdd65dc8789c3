"""Fixtures for the metric tests."""
import pytest

from posekit.data.coco import load_coco

from .synthetic import COCO_MINI


@pytest.fixture
def coco_mini():
    """The real COCO sample from ../shared/data (skips if absent)."""
    ann = COCO_MINI / "annotations" / "person_keypoints_train2017.json"
    if not ann.is_file():
        pytest.skip(f"real COCO sample not found at {ann} (see DESIGN.md: ../shared/data)")
    return load_coco(ann, images_dir=COCO_MINI / "train2017")
