"""DB (differentiable binarization) text-line detector: MobileNetV3 backbone, FPN neck, DB head, loss.

``model(images [B, 1, H, W] in [0, 1], targets=None) -> dict``: ``prob`` ``[B, 1, H, W]`` (shrink-map
probability); in training (or with ``targets``) also ``thresh`` (threshold map) and ``binary``
(``sigmoid(k (P - T))``, the approximate binarization, k = 50). With ``targets`` (dict of float
``[B, H, W]``: ``shrink_map``, ``shrink_mask``, ``thresh_map``, ``thresh_mask``, as
:func:`aksar.data.det_targets.make_targets` makes them, stacked: :func:`stack_targets`) it adds ``loss`` =
``loss_prob + 10 * loss_thresh + loss_binary`` (BCE with 3:1 hard-negative mining under the shrink
mask, L1 under the threshold mask, Dice), always computed in float32 (AMP-safe: the BCE takes the
logits). H and W must be multiples of ``stride`` (32). ``model.postprocess`` turns ``prob`` into
polygons (:mod:`aksar.models.det_postprocess`, numpy only); ``to_onnx`` exports ``images -> prob``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from aksar.core.errors import AksarError
from aksar.models.backbones import InvertedResidual, _conv_bn, _make_divisible
from aksar.models.det_postprocess import DBPostProcess
from aksar.models.registry import register_model

if TYPE_CHECKING:
    from aksar.data.det_targets import DetTargets

# MobileNetV3-large with 2D strides (kernel, expand, out, SE, act, stride); the last block of each
# stride level gives the feature maps at 1/4, 1/8, 1/16 and 1/32 (the stem has stride 2).
_MBV3_DET = [
    (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", 2), (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hswish", 2), (3, 200, 80, False, "hswish", 1), (3, 184, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1), (3, 480, 112, True, "hswish", 1), (3, 672, 112, True, "hswish", 1),
    (5, 672, 160, True, "hswish", 2), (5, 960, 160, True, "hswish", 1), (5, 960, 160, True, "hswish", 1),
]
TARGET_KEYS = ("shrink_map", "shrink_mask", "thresh_map", "thresh_mask")
_ALIASES = {"thresh_map": "threshold_map", "thresh_mask": "threshold_mask"}  # DetTargets' field names
TINY = dict(scale=0.25, inner_channels=32)  # db_tiny: tests and smoke runs


class DetBackbone(nn.Module):
    """MobileNetV3-large x ``scale`` returning the feature maps at strides 4, 8, 16 and 32."""

    def __init__(self, scale: float = 0.5, se: bool = True) -> None:
        super().__init__()
        if scale <= 0:
            raise AksarError(f"model.scale: expected a positive number, got {scale!r}")
        acts = {"relu": nn.ReLU, "hswish": nn.Hardswish}
        cin = _make_divisible(16 * scale)
        self.stem = _conv_bn(1, cin, 3, 2, 1, act=nn.Hardswish)
        stages: list[list[nn.Module]] = [[]]
        reduced = False  # the current stage has its stride-2 block
        for k, exp, out, use_se, act, stride in _MBV3_DET:
            if stride == 2 and reduced:
                stages.append([])
            reduced = reduced or stride == 2
            mid, cout = _make_divisible(scale * exp), _make_divisible(scale * out)
            stages[-1].append(InvertedResidual(cin, mid, cout, k, stride, use_se and se, acts[act]))
            cin = cout
        self.stages = nn.ModuleList(nn.Sequential(*blocks) for blocks in stages)
        self.out_channels = [stage[-1].block[-1][0].out_channels for stage in self.stages]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        x = self.stem(x)
        for stage in self.stages:
            for block in stage:
                x = block(x)
            feats.append(x)
        return feats


class DBFPN(nn.Module):
    """FPN: 1x1 to ``inner`` channels, top-down upsample-add, 3x3 to ``inner / 4``, all up to 1/4, concat."""

    def __init__(self, in_channels: list[int], inner: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, inner, 1, bias=False) for c in in_channels)
        self.smooth = nn.ModuleList(nn.Conv2d(inner, inner // 4, 3, padding=1, bias=False) for _ in in_channels)
        self.out_channels = inner // 4 * len(in_channels)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        lat = [conv(f) for conv, f in zip(self.lateral, feats)]
        for i in range(len(lat) - 2, -1, -1):
            lat[i] = lat[i] + F.interpolate(lat[i + 1], scale_factor=2.0, mode="nearest")
        outs = []
        for i, (conv, f) in enumerate(zip(self.smooth, lat)):
            y = conv(f)
            outs.append(y if i == 0 else F.interpolate(y, scale_factor=float(2 ** i), mode="nearest"))
        return torch.cat(outs[::-1], 1)


class DBHead(nn.Module):
    """3x3 conv + two stride-2 transposed convs: a 1/4 feature map -> a full-size logit map."""

    def __init__(self, cin: int, bias: float = 0.0) -> None:
        super().__init__()
        mid = max(cin // 4, 8)
        self.body = nn.Sequential(
            _conv_bn(cin, mid, 3, 1, 1),
            nn.ConvTranspose2d(mid, mid, 2, 2, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(mid, 1, 2, 2))
        nn.init.constant_(self.body[-1].bias, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


@register_model("db_mobilenet", "DB text-line detector, MobileNetV3-large x0.5 + FPN(96); ~0.9M params, "
                "the CPU default", scale=0.5, inner_channels=96)
@register_model("db_tiny", "DB text-line detector, MobileNetV3 x0.25 + FPN(32): tests and smoke runs", **TINY)
class DBNet(nn.Module):
    """DB detector (see the module doc). ``task = "detection"``: built without ``num_tokens``."""

    task: ClassVar[str] = "detection"
    kind: ClassVar[str] = "db"
    stride: ClassVar[int] = 32
    onnx_outputs: ClassVar[tuple[str, ...]] = ("prob",)
    tiny: ClassVar[dict[str, Any]] = TINY

    def __init__(self, scale: float = 0.5, inner_channels: int = 96, se: bool = True, k: float = 50.0,
                 alpha: float = 1.0, beta: float = 10.0, ohem_ratio: float = 3.0) -> None:
        super().__init__()
        if inner_channels < 16 or inner_channels % 4:
            raise AksarError(f"model.inner_channels: expected a multiple of 4, at least 16, got {inner_channels!r}")
        self._config = dict(scale=scale, inner_channels=inner_channels, se=se, k=k, alpha=alpha, beta=beta,
                            ohem_ratio=ohem_ratio)
        self.name = type(self).__name__
        self.k, self.alpha, self.beta, self.ohem_ratio = float(k), float(alpha), float(beta), float(ohem_ratio)
        self.backbone = DetBackbone(scale, se)
        self.neck = DBFPN(self.backbone.out_channels, inner_channels)
        self.prob_head = DBHead(self.neck.out_channels, bias=-2.0)  # starts near "no text" (p ~ 0.12)
        self.thresh_head = DBHead(self.neck.out_channels)
        self.postprocess = DBPostProcess()

    def config(self) -> dict[str, Any]:
        """Kwargs such that ``build_model(model.name, **model.config())`` rebuilds the architecture."""
        return dict(self._config)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_images(self, images: torch.Tensor) -> None:
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[2] % self.stride or images.shape[3] % self.stride:
            raise AksarError(f"{self.name}: expected images [B, 1, H, W] with H and W multiples of {self.stride}, "
                             f"got {list(images.shape)}")

    def forward(self, images: torch.Tensor, targets: Mapping[str, torch.Tensor] | None = None) -> dict[str, Any]:
        if not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export():
            self._check_images(images)
        feats = self.neck(self.backbone(images))
        logits = self.prob_head(feats)
        out: dict[str, Any] = {"prob": torch.sigmoid(logits)}
        if self.training or targets is not None:
            thresh = torch.sigmoid(self.thresh_head(feats).float())
            out["thresh"] = thresh
            out["binary"] = torch.sigmoid(self.k * (out["prob"].float() - thresh))
        if targets is not None:
            out.update(self.loss(logits, out["thresh"], out["binary"], targets))
        return out

    def export_forward(self, images: torch.Tensor) -> torch.Tensor:
        """The exported graph: ``images -> prob`` (the threshold branch is training-only)."""
        return torch.sigmoid(self.prob_head(self.neck(self.backbone(images))))

    # -- loss ------------------------------------------------------------------------------------------
    def loss(self, logits: torch.Tensor, thresh: torch.Tensor, binary: torch.Tensor,
             targets: Mapping[str, torch.Tensor]) -> dict[str, Any]:
        """``loss`` (tensor) and ``loss_prob``, ``loss_thresh``, ``loss_binary`` (floats), in float32."""
        tg = _targets(targets, logits)
        logits, thresh, binary = logits[:, 0].float(), thresh[:, 0].float(), binary[:, 0].float()
        l_prob = balanced_bce(logits, tg["shrink_map"], tg["shrink_mask"], self.ohem_ratio)
        l_thresh = masked_l1(thresh, tg["thresh_map"], tg["thresh_mask"])
        l_binary = dice_loss(binary, tg["shrink_map"], tg["shrink_mask"])
        total = self.alpha * l_prob + self.beta * l_thresh + l_binary
        return {"loss": total, "loss_prob": float(l_prob.detach()), "loss_thresh": float(l_thresh.detach()),
                "loss_binary": float(l_binary.detach())}

    # -- export ----------------------------------------------------------------------------------------
    def to_onnx(self, f: str | Path | IO[bytes], opset: int = 17, example_size: tuple[int, int] = (128, 160)) -> list[str]:
        """Export ``images [B, 1, H, W] -> prob [B, 1, H, W]`` (B, H, W dynamic) to ONNX; the mode is restored."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        axes = {"images": {0: "batch", 2: "height", 3: "width"}, "prob": {0: "batch", 2: "height", 3: "width"}}
        target = f if hasattr(f, "write") else str(f)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(_Export(self).eval(), (torch.zeros(1, 1, *example_size, device=device),), target,
                                  input_names=["images"], output_names=list(self.onnx_outputs), dynamic_axes=axes,
                                  opset_version=opset, dynamo=False, do_constant_folding=True)
        finally:
            self.train(was_training)
        return list(self.onnx_outputs)


class _Export(nn.Module):
    def __init__(self, model: DBNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.export_forward(images)


def stack_targets(targets: Sequence[DetTargets], device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """A batch of :func:`aksar.data.det_targets.make_targets` results -> the dict ``model(images, targets)``
    takes (float32 ``[B, H, W]`` each)."""
    return {key: torch.from_numpy(np.stack([getattr(t, _ALIASES.get(key, key)) for t in targets]))
            .to(device, torch.float32) for key in TARGET_KEYS}


def _targets(targets: Mapping[str, torch.Tensor], like: torch.Tensor) -> dict[str, torch.Tensor]:
    """The four target maps as float32 ``[B, H, W]`` on ``like``'s device, checked against its size."""
    out = {}
    for key in TARGET_KEYS:
        value = targets.get(key, targets.get(_ALIASES.get(key, key)))
        if value is None:
            raise AksarError(f"detection targets: missing {key!r} (have {', '.join(sorted(targets))})")
        value = torch.as_tensor(value).to(like.device, torch.float32)
        if value.dim() == 4:
            value = value[:, 0]
        if value.shape != (like.shape[0], like.shape[2], like.shape[3]):
            raise AksarError(f"detection targets: {key} is {list(value.shape)}, expected "
                             f"[{like.shape[0]}, {like.shape[2]}, {like.shape[3]}] (the input size)")
        out[key] = value
    return out


def balanced_bce(logits: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, ratio: float = 3.0,
                 eps: float = 1e-6) -> torch.Tensor:
    """BCE (from logits) over the positives and the hardest ``ratio x positives`` negatives under ``mask``
    (at least 100 negatives when a batch has no positive, so an empty page still teaches "no text")."""
    positive = gt * mask
    negative = (1 - gt) * mask
    pos_count = int(positive.sum().item())
    neg_count = min(int(negative.sum().item()), max(int(pos_count * ratio), 0 if pos_count else 100))
    loss = F.binary_cross_entropy_with_logits(logits, gt, reduction="none")
    pos_loss = (loss * positive).sum()
    neg_loss = (loss * negative).flatten()
    if neg_count > 0:
        neg_loss = torch.topk(neg_loss, neg_count).values.sum()
    else:
        neg_loss = neg_loss.sum() * 0
    return (pos_loss + neg_loss) / (pos_count + neg_count + eps)


def masked_l1(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    return ((pred - gt).abs() * mask).sum() / (mask.sum() + eps)


def dice_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    inter = (pred * gt * mask).sum()
    union = (pred * mask).sum() + (gt * mask).sum() + eps
    return 1 - 2 * inter / union


__all__ = ["DBNet", "stack_targets", "DetBackbone", "DBFPN", "DBHead", "balanced_bce", "masked_l1", "dice_loss", "TARGET_KEYS"]
