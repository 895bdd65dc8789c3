"""OpenPose (Cao, Hidalgo, Simon, Wei, Sheikh, "OpenPose: Realtime Multi-Person 2D Pose
Estimation using Part Affinity Fields", TPAMI 2019; CVPR 2017 for the first version).

Bottom-up: the whole image goes through a feature extractor F (stride 8), then
T_P stages predicting Part Affinity Fields and T_C stages predicting confidence maps
(the TPAMI design: PAFs first, refined the most, then maps conditioned on them)::

    L^1 = phi^1(F),          L^t = phi^t(F, L^{t-1})            t = 2..T_P
    S^1 = rho^1(F, L^{T_P}), S^t = rho^t(F, L^{T_P}, S^{t-1})   t = 2..T_C

(the paper numbers the first map stage T_P + 1; arguments are concatenated along
channels). Every stage is supervised (:func:`posekit.losses.openpose_loss`);
grouping the last stage's maps into people is :mod:`posekit.inference.bottomup`.

Feature extractor. The paper's F is the first 10 layers of VGG-19 (+ 2 convs to
128 channels): 38 GMACs at 368x368 before any stage, out of reach for training on
a CPU. Here F is the stride-8 part of a posekit ResNet (stem + layer1 + layer2,
i.e. C3) and a 3x3 conv to ``feature_channels``: ResNet-18's C3 costs 2.7 GMACs at
368x368 (0.75 at width 32), its module names match ImageNet ResNet weights, and
residual blocks with BatchNorm train from scratch where plain VGG stacks need
pretraining. For small people (256x256 scenes of several people) ``openpose_small_s4``
puts the same stages on stride-4 features, C2-C4 fused top-down (:class:`ResNetPyramid`).

Stages. TPAMI replaces each 7x7 convolution of the CVPR stages by three 3x3
convolutions whose outputs are concatenated (same receptive field, fewer
operations, the early features kept); a stage is ``blocks`` such triples, a 1x1
conv and a 1x1 output conv, with PReLU activations as in the paper.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones.resnet import ResNet, resnet18


class ResNetC3(nn.Module):
    """The stride-8 trunk of a ResNet: stem, layer1, layer2. images (B,3,H,W) -> (B, c3, H/8, W/8).

    Keeps the ResNet's module names (``conv1``, ``bn1``, ``layer1``, ``layer2``), so an
    ImageNet state dict loads with ``load_state_dict(state, strict=False)`` after dropping
    ``layer3.*``, ``layer4.*`` and ``fc.*``.
    """

    def __init__(self, resnet: ResNet):
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2 = resnet.layer1, resnet.layer2
        self.out_channels = resnet.out_channels[1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layer2(self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(images))))))


class ResNetPyramid(nn.Module):
    """Stride-4 features from a ResNet's C2, C3 and C4, fused top-down as in FPN (Lin et al., CVPR 2017):
    1x1 laterals to ``channels``, nearest x2 upsampling and element-wise addition, then a 3x3 conv.

    images (B,3,H,W) -> (B, channels, H/4, W/4). Keeps the ResNet's module names (``conv1`` ...
    ``layer3``), like :class:`ResNetC3`. C4 brings the context of a stride-16 receptive field
    at little cost (its maps are 1/16 the size of C2's).
    """

    def __init__(self, resnet: ResNet, channels: int = 64):
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool
        self.layer1, self.layer2, self.layer3 = resnet.layer1, resnet.layer2, resnet.layer3
        self.laterals = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in resnet.out_channels[:3])
        self.smooth = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.out_channels = channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        c2 = self.layer1(self.maxpool(self.relu(self.bn1(self.conv1(images)))))
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        x = self.laterals[2](c4)
        for lateral, c in ((self.laterals[1], c3), (self.laterals[0], c2)):
            x = lateral(c) + F.interpolate(x, size=c.shape[-2:], mode="nearest")
        return self.smooth(x)


class ConvTriple(nn.Module):
    """Three 3x3 conv + PReLU in sequence, outputs concatenated: (B, c_in, h, w) -> (B, 3 width, h, w)."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, width, 3, padding=1), nn.PReLU(width)) for c in (in_channels, width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for conv in self.convs:
            x = conv(x)
            outs.append(x)
        return torch.cat(outs, 1)


class Stage(nn.Module):
    """One refinement stage: ``blocks`` x ConvTriple, 1x1 conv + PReLU, 1x1 conv to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 96, blocks: int = 5, hidden: int = 256):
        super().__init__()
        triples = []
        for _ in range(blocks):
            triples.append(ConvTriple(in_channels, width))
            in_channels = 3 * width
        self.blocks = nn.Sequential(*triples)
        self.hidden = nn.Sequential(nn.Conv2d(in_channels, hidden, 1), nn.PReLU(hidden))
        self.out = nn.Conv2d(hidden, out_channels, 1)
        nn.init.normal_(self.out.weight, std=0.01)
        nn.init.zeros_(self.out.bias)

    def input_segments(self, prefix: str, inputs: list[str | int]) -> dict[str, list[str | int]]:
        """This stage's concatenated inputs for :func:`~posekit.models.widen.widen_state_dict`: the first
        triple's (``inputs``, as the network joins them) and, after each triple, its three convs' outputs."""
        segments = {f"{prefix}blocks.0.convs.0.0": inputs}
        for b in range(1, len(self.blocks) + 1):
            consumer = f"{prefix}blocks.{b}.convs.0.0" if b < len(self.blocks) else f"{prefix}hidden.0"
            segments[consumer] = [f"{prefix}blocks.{b - 1}.convs.{i}.0" for i in range(3)]
        return segments

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(self.blocks(x)))


class OpenPose(nn.Module):
    """images (B,3,H,W) -> ``{"pafs": T_P x (B,2C,H/s,W/s), "heatmaps": T_C x (B,K,H/s,W/s)}``.

    Args:
        trunk: feature network of stride s (8 in the paper) with an ``out_channels`` attribute.
        num_keypoints: K confidence maps.
        num_limbs: C limbs (2C PAF channels, x then y per limb).
        feature_channels: channels of F.
        paf_stages, cm_stages: T_P and T_C.
        width, blocks, hidden: stage shape (:class:`Stage`) of every PAF stage, and of the map stages unless:
        cm_width, cm_hidden: the confidence-map stages' own width and hidden channels (default: ``width``,
            ``hidden``), so the maps, the harder half of the task, can get more capacity than the PAFs.
    """

    def __init__(self, trunk: nn.Module, num_keypoints: int, num_limbs: int, feature_channels: int = 128,
                 paf_stages: int = 4, cm_stages: int = 2, width: int = 96, blocks: int = 5, hidden: int = 256,
                 cm_width: int | None = None, cm_hidden: int | None = None):
        super().__init__()
        if paf_stages < 1 or cm_stages < 1:
            raise ValueError(f"need at least one PAF and one confidence-map stage, got {paf_stages}, {cm_stages}")
        self.trunk = trunk
        self.features = nn.Sequential(nn.Conv2d(trunk.out_channels, feature_channels, 3, padding=1),
                                      nn.PReLU(feature_channels))
        f, paf, k = feature_channels, 2 * num_limbs, num_keypoints
        self.paf_stages = nn.ModuleList(
            Stage(f if t == 0 else f + paf, paf, width, blocks, hidden) for t in range(paf_stages)
        )
        self.cm_stages = nn.ModuleList(
            Stage(f + paf if t == 0 else f + paf + k, k, cm_width or width, blocks, cm_hidden or hidden)
            for t in range(cm_stages)
        )

    def grow_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weights of a trained network with fewer confidence-map stages -> weights for this one.

        From one map stage, each new stage t >= 2 is a copy of stage 1 whose weights on the S^{t-1} input channels
        (which stage 1 does not have) start at zero, so it sees what stage 1 saw and repeats its maps exactly;
        training then refines from there (the Net2Net idea, as :meth:`StackedHourglass.grow_state_dict`). From
        T >= 2 map stages, each new stage is a copy of the last trained one, so it applies that refinement once
        more to S^T (the same inputs, one stage on): not the same maps, but a trained refiner's where a fresh stage
        would start from noise. Weights with as many map stages as this network are returned unchanged.
        """
        stages = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("cm_stages.")), default=-1)
        if stages in (0, len(self.cm_stages)):
            return state
        if stages > len(self.cm_stages):
            raise ValueError(f"can only grow confidence-map stages: this network has {len(self.cm_stages)}, "
                             f"the weights have {stages}")
        grown = dict(state)
        source, first_conv = f"cm_stages.{stages - 1}.", "blocks.0.convs.0.0.weight"
        for t in range(stages, len(self.cm_stages)):
            for key, value in state.items():
                if key.startswith(source):
                    name = key[len(source):]
                    if name == first_conv and stages == 1:  # (width, F + L, 3, 3) -> (width, F + L + S, 3, 3)
                        extra = self.cm_stages[t].blocks[0].convs[0][0].in_channels - value.shape[1]
                        value = torch.cat([value, value.new_zeros(value.shape[0], extra, *value.shape[2:])], 1)
                    grown[f"cm_stages.{t}.{name}"] = value.clone()
        return grown

    def input_segments(self) -> dict[str, list[str | int]]:
        """Every layer whose input is a channel concatenation, with its pieces (a producing layer's name or a
        fixed count), so :func:`~posekit.models.widen.widen_state_dict` can widen F and the stages too."""
        pafs, maps = self.paf_stages[0].out.out_channels, self.cm_stages[0].out.out_channels
        segments = {}
        for t, stage in enumerate(self.paf_stages):
            segments |= stage.input_segments(f"paf_stages.{t}.", ["features.0"] + ([pafs] if t else []))
        for t, stage in enumerate(self.cm_stages):
            segments |= stage.input_segments(f"cm_stages.{t}.", ["features.0", pafs] + ([maps] if t else []))
        return segments

    def forward(self, images: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        features = self.features(self.trunk(images))
        pafs = [self.paf_stages[0](features)]
        for stage in self.paf_stages[1:]:
            pafs.append(stage(torch.cat([features, pafs[-1]], 1)))
        context = torch.cat([features, pafs[-1]], 1)
        heatmaps = [self.cm_stages[0](context)]
        for stage in self.cm_stages[1:]:
            heatmaps.append(stage(torch.cat([context, heatmaps[-1]], 1)))
        return {"pafs": pafs, "heatmaps": heatmaps}


def openpose_small(num_keypoints: int, num_limbs: int, trunk_width: int = 32, feature_channels: int = 64,
                   paf_stages: int = 3, cm_stages: int = 1, width: int = 32, blocks: int = 2,
                   hidden: int = 96, cm_width: int | None = None, cm_hidden: int | None = None) -> OpenPose:
    """CPU-trainable: ResNet-18 C3 at width 32, 3 PAF + 1 map stage of 2 triples of 32 channels.

    1.7 GMACs and 0.63 M parameters at 368x368 with K=17, C=19.
    """
    return OpenPose(ResNetC3(resnet18(width=trunk_width)), num_keypoints, num_limbs, feature_channels,
                    paf_stages, cm_stages, width, blocks, hidden, cm_width, cm_hidden)


def openpose_resnet18(num_keypoints: int, num_limbs: int, feature_channels: int = 128, paf_stages: int = 4,
                      cm_stages: int = 2, width: int = 96, blocks: int = 5, hidden: int = 256,
                      cm_width: int | None = None, cm_hidden: int | None = None) -> OpenPose:
    """The TPAMI stage design (5 triples of 96 channels, 256 hidden) on ResNet-18 C3 instead of VGG-19.

    29 GMACs and 13 M parameters at 368x368 with K=17, C=19 (the stages dominate).
    """
    return OpenPose(ResNetC3(resnet18()), num_keypoints, num_limbs, feature_channels,
                    paf_stages, cm_stages, width, blocks, hidden, cm_width, cm_hidden)


def openpose_small_s4(num_keypoints: int, num_limbs: int, trunk_width: int = 32, feature_channels: int = 64,
                      paf_stages: int = 3, cm_stages: int = 1, width: int = 32, blocks: int = 2,
                      hidden: int = 96, cm_width: int | None = None, cm_hidden: int | None = None) -> OpenPose:
    """:func:`openpose_small`'s stages on stride-4 maps from :class:`ResNetPyramid` (ResNet-18 C2-C4 at width 32).

    Stride 8 caps COCO AP on 256x256 scenes of 2-6 people at 0.585 even with perfect maps
    (ground-truth targets grouped, 32x32); stride 4 lifts that ceiling to 0.825
    (docs/DESIGN_NOTES.md). The stages then cost 4x as much per image.
    """
    return OpenPose(ResNetPyramid(resnet18(width=trunk_width)), num_keypoints, num_limbs, feature_channels,
                    paf_stages, cm_stages, width, blocks, hidden, cm_width, cm_hidden)


MODELS = {
    "openpose_small": openpose_small,
    "openpose_small_s4": openpose_small_s4,
    "openpose_resnet18": openpose_resnet18,
}
