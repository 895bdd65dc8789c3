"""posekit.synth: procedural synthetic humans with dense labels and real mocap poses.

- :mod:`.body`: 24-joint skeleton, shape parameters, joint limits, forward kinematics;
- :mod:`.bvh`: BVH reader and retargeting of Bandai-Namco-Research-Motiondataset-1;
- :mod:`.parts`: body-part vocabulary, primitives of each part, keypoint sets;
- :mod:`.render`: analytic ray casting (capsules, ellipsoids, rounded boxes) with a z-buffer;
- :mod:`.scene`: people, cameras, lighting, textures, backgrounds -> :func:`render_scene`;
- :mod:`.io`: :func:`generate` a COCO-format dataset with dense labels, :func:`load_sample`;
- :mod:`.dataset`: :class:`SynthDataset`, scenes on the fly.
"""
from .body import SYNTH_BODY, BodyShape, forward_kinematics, sample_pose
from .dataset import SynthDataset
from .io import generate, load_sample
from .parts import PART_FLIP, PARTS
from .scene import SynthConfig, render_scene

__all__ = [
    "SYNTH_BODY", "BodyShape", "forward_kinematics", "sample_pose", "SynthDataset", "generate", "load_sample",
    "PART_FLIP", "PARTS", "SynthConfig", "render_scene",
]
