"""Plain Vision Transformer backbone for dense prediction (ViT, Dosovitskiy et al. ICLR 2021).

The encoder used by ViTPose (Xu et al., NeurIPS 2022): non-overlapping 16x16 patches,
learned absolute position embeddings, pre-norm transformer blocks with stochastic depth
and a final LayerNorm. Unlike a classifier it returns the patch tokens as a feature map
(B, C, H/16, W/16). No class token by default (pose needs none); ``class_token=True``
keeps one so checkpoints that use it load without surgery.

Also here: ``resample_pos_embed`` (bicubic resizing of position embeddings between token
grids), ``load_encoder_weights`` (safetensors / weights-only torch checkpoints, e.g. MAE
or ViTPose backbones, at any training resolution) and ``layer_decay_param_groups``
(BEiT/ViTPose layer-wise learning-rate decay).

Layout follows timm's ``vision_transformer.py``: blocks, model, then factories.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

logger = logging.getLogger(__name__)


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: zero whole samples of a residual branch with probability ``drop_prob``.

    Kept samples are scaled by 1 / (1 - drop_prob) so the expectation is unchanged.
    Identity when not training or ``drop_prob == 0``. x: (B, ...) -> (B, ...).
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = x.new_empty(mask_shape).bernoulli_(keep_prob)
    return x * mask / keep_prob


class DropPath(nn.Module):
    """Module wrapper of :func:`drop_path` for a residual branch."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


class PatchEmbed(nn.Module):
    """Image to patch features with one strided convolution.

    img_size is (H, W) in pixels and may be non-square: (256, 192) gives a 16x12 grid.
    ``padding`` pads the image on every side before patching (ViTPose's released
    backbones use 2; default 0 = plain ViT). forward: (B, in_chans, H, W) -> (B, C, h, w).
    """

    def __init__(
        self,
        img_size: tuple[int, int] = (256, 192),
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        padding: int = 0,
    ) -> None:
        super().__init__()
        self.img_size = tuple(img_size)
        self.patch_size = patch_size
        self.grid_size = self.grid_for(self.img_size, patch_size, padding)
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size, padding=padding)

    @staticmethod
    def grid_for(img_size: tuple[int, int], patch_size: int, padding: int) -> tuple[int, int]:
        """Token grid (h, w) for an image of (H, W) pixels."""
        return tuple((s + 2 * padding - patch_size) // patch_size + 1 for s in img_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class Attention(nn.Module):
    """Multi-head self-attention via ``F.scaled_dot_product_attention``. (B, N, C) -> (B, N, C)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        # (B, N, 3C) -> (3, B, heads, N, head_dim)
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0
        )
        x = x.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))


class Mlp(nn.Module):
    """Two-layer feed-forward network with GELU. (..., dim) -> (..., dim)."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class Block(nn.Module):
    """Pre-norm transformer block: x + DropPath(Attn(LN(x))), then x + DropPath(Mlp(LN(x)))."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


def resample_pos_embed(
    pos_embed: torch.Tensor,
    old_grid: tuple[int, int],
    new_grid: tuple[int, int],
    num_prefix_tokens: int = 0,
) -> torch.Tensor:
    """Resize position embeddings from one token grid to another with bicubic interpolation.

    pos_embed: (1, P + h_old*w_old, C) with P prefix (class) tokens first, patch tokens
    in row-major order. Grids are (rows, cols) in tokens. Prefix embeddings are kept as
    they are. Returns (1, P + h_new*w_new, C); the input itself when the grids match.
    """
    old_grid, new_grid = tuple(old_grid), tuple(new_grid)
    expected = num_prefix_tokens + old_grid[0] * old_grid[1]
    if pos_embed.shape[1] != expected:
        raise ValueError(
            f"pos_embed has {pos_embed.shape[1]} tokens, expected {expected} for grid {old_grid} "
            f"with {num_prefix_tokens} prefix token(s)"
        )
    if old_grid == new_grid:
        return pos_embed
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    dim = grid.shape[-1]
    grid = grid.reshape(1, *old_grid, dim).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=new_grid, mode="bicubic", align_corners=False, antialias=True)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], dim).to(pos_embed.dtype)
    return torch.cat([prefix, grid], dim=1)


class VisionTransformer(nn.Module):
    """ViT encoder returning a stride-16 feature map.

    forward: images (B, in_chans, H, W) -> features (B, embed_dim, h, w) with
    (h, w) = patch_embed grid of (H, W); (H/16, W/16) for the default patching.

    img_size: (H, W) pixels the position embeddings are built for. Other sizes raise,
    unless ``dynamic_img_size`` is set, in which case the embeddings are resampled
    bicubically on every forward. drop_path_rate: stochastic-depth rate of the last
    block, rising linearly from 0 at the first.
    """

    def __init__(
        self,
        img_size: tuple[int, int] = (256, 192),
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        class_token: bool = False,
        patch_padding: int = 0,
        dynamic_img_size: bool = False,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.depth = depth
        self.dynamic_img_size = dynamic_img_size
        self.num_prefix_tokens = 1 if class_token else 0

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim, patch_padding)
        grid_h, grid_w = self.patch_embed.grid_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_prefix_tokens + grid_h * grid_w, embed_dim)
        )
        self.pos_drop = nn.Dropout(drop_rate)
        rates = [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, drop_rate, attn_drop_rate, rate)
            for rate in rates
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.init_weights()

    @property
    def grid_size(self) -> tuple[int, int]:
        """Token grid (h, w) the position embeddings are built for."""
        return self.patch_embed.grid_size

    def init_weights(self) -> None:
        """trunc_normal(std .02) for Linear weights and position embeddings; zero biases."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _pos_embed(self, grid: tuple[int, int]) -> torch.Tensor:
        """Position embeddings (1, P + h*w, C) for a token grid (h, w)."""
        if grid == self.grid_size:
            return self.pos_embed
        if not self.dynamic_img_size:
            raise ValueError(
                f"input gives a {grid[0]}x{grid[1]} token grid but the position embeddings "
                f"are for {self.grid_size[0]}x{self.grid_size[1]} (img_size="
                f"{self.patch_embed.img_size}); build the model for this size or pass "
                f"dynamic_img_size=True"
            )
        return resample_pos_embed(self.pos_embed, self.grid_size, grid, self.num_prefix_tokens)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(images)  # (B, C, h, w)
        b, _, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)  # (B, h*w, C)
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = self.pos_drop(x + self._pos_embed((h, w)))
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)[:, self.num_prefix_tokens :]
        return x.transpose(1, 2).reshape(b, self.embed_dim, h, w)


# --- weights ----------------------------------------------------------------------------

_KEY_PREFIXES = ("module.", "encoder.", "backbone.")
_KEY_ALIASES = {"last_norm.": "norm."}  # ViTPose names the final LayerNorm `last_norm`


@dataclass(frozen=True)
class LoadReport:
    """What :func:`load_encoder_weights` did. Keys are the model's parameter names."""

    loaded: list[str]
    missing: list[str]
    unexpected: list[str]
    pos_embed_resampled: tuple[tuple[int, int], tuple[int, int]] | None = None

    def __str__(self) -> str:
        """One line; key lists are cut after 10 names."""
        parts = [f"loaded {len(self.loaded)} tensors"]
        if self.pos_embed_resampled:
            (h0, w0), (h1, w1) = self.pos_embed_resampled
            parts.append(f"pos_embed resampled from {h0}x{w0} to {h1}x{w1} tokens")
        for title, keys in (
            ("missing (kept at init)", self.missing),
            ("unexpected (ignored)", self.unexpected),
        ):
            if keys:
                more = f", ... (+{len(keys) - 10} more)" if len(keys) > 10 else ""
                parts.append(f"{len(keys)} {title}: {', '.join(keys[:10])}{more}")
        return "; ".join(parts)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file or a weights-only torch checkpoint (unwrapping
    a top-level "state_dict" or "model" entry)."""
    if path.suffix == ".safetensors":
        return load_file(str(path), device="cpu")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
    if not isinstance(obj, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(obj).__name__})")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _normalise_key(key: str) -> str:
    """Strip wrapper prefixes (module./encoder./backbone.) and map aliases to our names."""
    stripped = True
    while stripped:
        stripped = False
        for prefix in _KEY_PREFIXES:
            if key.startswith(prefix):
                key, stripped = key[len(prefix) :], True
    for old, new in _KEY_ALIASES.items():
        if key.startswith(old):
            key = new + key[len(old) :]
    return key


def _infer_grid(
    num_tokens: int, model_prefix: int, model_grid: tuple[int, int]
) -> tuple[int, tuple[int, int]]:
    """Guess (prefix tokens, (h, w)) of a checkpoint's pos_embed from its token count.

    Tries 0 or 1 prefix token (the model's count first) and takes the first grid with
    the model's aspect ratio, else a square grid (square pretraining such as MAE 224).
    """
    prefixes = (model_prefix, 1 - model_prefix)
    for prefix in prefixes:
        n = num_tokens - prefix
        for h in range(1, n + 1):
            if n % h == 0 and h * model_grid[1] == (n // h) * model_grid[0]:
                return prefix, (h, n // h)
    for prefix in prefixes:
        side = math.isqrt(num_tokens - prefix)
        if side > 0 and side * side == num_tokens - prefix:
            return prefix, (side, side)
    raise ValueError(
        f"cannot infer the token grid of {num_tokens} position embeddings; pass old_grid=(h, w)"
    )


def _adapt_pos_embed(
    pos_embed: torch.Tensor, model: VisionTransformer, old_grid: tuple[int, int] | None
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Bring a checkpoint's pos_embed to the model's grid and prefix-token count.

    A checkpoint prefix (class) slot that the model lacks is added onto every patch
    position, which is what ViTPose does at run time with MAE weights; a slot the model
    has and the checkpoint lacks starts at zero.
    """
    if old_grid is None:
        if pos_embed.shape[1] == model.pos_embed.shape[1]:
            old_prefix, old_grid = model.num_prefix_tokens, model.grid_size
        else:
            old_prefix, old_grid = _infer_grid(
                pos_embed.shape[1], model.num_prefix_tokens, model.grid_size
            )
    else:
        old_prefix = pos_embed.shape[1] - old_grid[0] * old_grid[1]
        if old_prefix not in (0, 1):
            raise ValueError(
                f"pos_embed with {pos_embed.shape[1]} tokens does not fit grid {old_grid}"
            )
    pos_embed = resample_pos_embed(pos_embed, old_grid, model.grid_size, old_prefix)
    if old_prefix > model.num_prefix_tokens:
        pos_embed = pos_embed[:, 1:] + pos_embed[:, :1]
    elif old_prefix < model.num_prefix_tokens:
        pos_embed = torch.cat([pos_embed.new_zeros(1, 1, pos_embed.shape[-1]), pos_embed], dim=1)
    return pos_embed, tuple(old_grid)


def load_encoder_weights(
    model: VisionTransformer,
    path: str | Path,
    old_grid: tuple[int, int] | None = None,
) -> LoadReport:
    """Load ViT encoder weights from a ``.safetensors`` file or a torch state dict.

    Torch files are read with ``weights_only=True``. Keys may carry ``module.``,
    ``encoder.`` or ``backbone.`` prefixes (e.g. a whole ViTPose or MAE checkpoint; the
    other parts are reported as unexpected). Position embeddings trained at another
    resolution are resampled to the model's grid; their old grid (h, w) in tokens is
    guessed from the token count (the model's aspect ratio, else square) unless given.
    Released ViTPose backbones were trained with ``patch_padding=2``; build the model so.

    Returns a :class:`LoadReport` (also logged). Raises ValueError if no key matches the
    model or a matching key has the wrong shape.
    """
    path = Path(path)
    own = model.state_dict()
    source = {_normalise_key(k): v for k, v in _read_state_dict(path).items()}
    matched = {k: v for k, v in source.items() if k in own}
    if not matched:
        raise ValueError(
            f"no tensor in {path} matches the ViT encoder: file keys look like "
            f"{sorted(source)[:5]}, model keys like {sorted(own)[:5]}"
        )
    resampled = None
    if "pos_embed" in matched:
        matched["pos_embed"], grid = _adapt_pos_embed(matched["pos_embed"], model, old_grid)
        if grid != model.grid_size:
            resampled = (grid, model.grid_size)
    wrong = [f"{k}: file {tuple(v.shape)} vs model {tuple(own[k].shape)}"
             for k, v in matched.items() if v.shape != own[k].shape]
    if wrong:
        raise ValueError(f"shape mismatch loading {path}: " + "; ".join(wrong))
    model.load_state_dict(matched, strict=False)
    report = LoadReport(
        loaded=sorted(matched),
        missing=sorted(set(own) - set(matched)),
        unexpected=sorted(set(source) - set(matched)),
        pos_embed_resampled=resampled,
    )
    log = logger.warning if report.missing or report.unexpected else logger.info
    log("load_encoder_weights(%s): %s", path, report)
    return report


# --- optimisation -----------------------------------------------------------------------

def _no_weight_decay(name: str, param: nn.Parameter) -> bool:
    """Biases, norm weights (all 1-d tensors) and position / class embeddings."""
    leaf = name.rsplit(".", 1)[-1]
    return param.ndim <= 1 or leaf in ("pos_embed", "cls_token")


def layer_decay_param_groups(
    model: nn.Module, base_lr: float, weight_decay: float, layer_decay: float
) -> list[dict]:
    """Optimizer param groups with layer-wise lr decay (BEiT / ViTPose).

    model is a VisionTransformer or any module containing exactly one (e.g. ViTPose).
    With L = depth + 2 layers: patch_embed, pos_embed and cls_token are layer 0, block i
    is layer i + 1, everything else (final norm, decoder, heads) is layer L - 1. A
    parameter at layer l gets lr = base_lr * layer_decay ** (L - 1 - l). Biases, norms
    and embeddings get no weight decay. Each group has "lr", "weight_decay", "lr_scale"
    (for schedulers that rescale lr) and "name". Frozen parameters are left out.
    """
    vits = [(n, m) for n, m in model.named_modules() if isinstance(m, VisionTransformer)]
    if len(vits) != 1:
        raise ValueError(f"expected one VisionTransformer in the model, found {len(vits)}")
    vit_prefix, vit = vits[0]
    vit_prefix = vit_prefix + "." if vit_prefix else ""
    num_layers = vit.depth + 2

    def layer_id(name: str) -> int:
        if not name.startswith(vit_prefix):
            return num_layers - 1
        parts = name[len(vit_prefix) :].split(".")
        if parts[0] in ("patch_embed", "pos_embed", "cls_token"):
            return 0
        if parts[0] == "blocks":
            return int(parts[1]) + 1
        return num_layers - 1

    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer, no_wd = layer_id(name), _no_weight_decay(name, param)
        if (layer, no_wd) not in groups:
            scale = layer_decay ** (num_layers - 1 - layer)
            groups[(layer, no_wd)] = {
                "name": f"layer_{layer}_{'no_decay' if no_wd else 'decay'}",
                "params": [],
                "lr": base_lr * scale,
                "lr_scale": scale,
                "weight_decay": 0.0 if no_wd else weight_decay,
            }
        groups[(layer, no_wd)]["params"].append(param)
    return [groups[key] for key in sorted(groups)]


# --- factories ----------------------------------------------------------------------------

def vit_tiny(
    img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.0, **kwargs
) -> VisionTransformer:
    """ViT-Tiny/16: 192 dim, 12 blocks, 3 heads (5.5M params). img_size is (H, W) pixels."""
    return VisionTransformer(img_size, embed_dim=192, depth=12, num_heads=3,
                             drop_path_rate=drop_path_rate, **kwargs)


def vit_small(
    img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.0, **kwargs
) -> VisionTransformer:
    """ViT-Small/16: 384 dim, 12 blocks, 6 heads (21.7M params). img_size is (H, W) pixels."""
    return VisionTransformer(img_size, embed_dim=384, depth=12, num_heads=6,
                             drop_path_rate=drop_path_rate, **kwargs)


def vit_base(
    img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.0, **kwargs
) -> VisionTransformer:
    """ViT-Base/16: 768 dim, 12 blocks, 12 heads (85.8M params). img_size is (H, W) pixels."""
    return VisionTransformer(img_size, embed_dim=768, depth=12, num_heads=12,
                             drop_path_rate=drop_path_rate, **kwargs)
