"""Convolutional backbones: image ``[B, 1, H, W]`` -> width-wise feature sequence ``[B, C, W / 4]``.

Every backbone reduces the height by 16 and the width by ``width_stride = 4``, then collapses the
remaining ``H / 16`` rows (a learned ``(H/16, 1)`` convolution for the VGG-style ones, a max pool for
the MobileNetV3 one), so ``height`` must be a multiple of 16 (32, 48, 64, ...). A width stride of 4
gives a line of height 32 about one CTC frame per 4 pixels: several frames per Khmer/Thai cluster,
enough for CTC to fit the label plus a blank between repeated labels.

Batch independence: a convolution near the right end of a line sees the columns after it. So that
those are the same whether the line is read alone or in a wider batch, inference pads every line with
at least ``pad_margin(backbone)`` columns of its own background (``to_array_batch(margin=...)``): the
right reach of the conv stack plus the last frame's width. The only width-global operation (the
squeeze-excite pooling of MobileNetV3) averages over the true width when ``widths`` are given.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aksar.core.errors import AksarError

WIDTH_STRIDE = 4
HEIGHT_STRIDE = 16


def check_height(height: int) -> int:
    if not isinstance(height, int) or height < HEIGHT_STRIDE or height % HEIGHT_STRIDE:
        raise AksarError(f"model.height: expected a multiple of {HEIGHT_STRIDE} (32, 48, 64, ...), "
                         f"got {height!r}")
    return height


def output_lengths(widths: torch.Tensor, total: int) -> torch.Tensor:
    """Frames covering each true width: ``ceil(w / 4)``, clamped to ``[1, total]``."""
    return ((widths + WIDTH_STRIDE - 1) // WIDTH_STRIDE).clamp(min=1, max=total)


def valid_columns(widths: torch.Tensor | None, stride: int) -> torch.Tensor | None:
    """Columns of a feature map at ``stride`` that lie over the true widths: ``ceil(w / stride)``."""
    return None if widths is None else (widths + stride - 1) // stride


def _width_of(value) -> int:
    return int(value[1] if isinstance(value, tuple) else value)


def pad_margin(backbone: nn.Module) -> int:
    """Background columns a line needs after its true width so its frames never see past them.

    The right reach of the conv/pool stack (``(kernel - 1 - padding) * stride so far`` summed over the
    layers, in forward order) plus ``WIDTH_STRIDE - 1`` (the last frame covers up to 3 columns past
    the width).
    """
    reach, jump = 0, 1
    for m in backbone.modules():
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
            k, s = _width_of(m.kernel_size), _width_of(m.stride)
            d, p = _width_of(m.dilation), _width_of(m.padding)
            reach += max(0, d * (k - 1) - p) * jump
            jump *= s
    return reach + WIDTH_STRIDE - 1


def _conv_bn(cin: int, cout: int, kernel=3, stride=1, padding=1, groups: int = 1,
             act: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, kernel, stride, padding, groups=groups, bias=False),
                               nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class VGGBackbone(nn.Module):
    """CRNN-style 3x3 conv stack. Pools: 2x2 after conv 1 and 2, (2,1) after conv 4 and the last conv."""

    width_stride = WIDTH_STRIDE

    def __init__(self, channels: Sequence[int], height: int = 32) -> None:
        super().__init__()
        check_height(height)
        if len(channels) < 5:
            raise AksarError(f"model.channels: expected at least 5 conv widths, got {list(channels)}")
        layers: list[nn.Module] = []
        cin = 1
        last = len(channels) - 1
        for i, cout in enumerate(channels):
            layers.append(_conv_bn(cin, cout))
            if i in (0, 1):
                layers.append(nn.MaxPool2d(2, 2))
            elif i in (3, last):
                layers.append(nn.MaxPool2d((2, 1), (2, 1)))
            cin = cout
        self.features = nn.Sequential(*layers)
        rows = height // HEIGHT_STRIDE
        self.collapse = _conv_bn(cin, cin, kernel=(rows, 1), padding=0)
        self.out_channels = cin

    def forward(self, x: torch.Tensor, widths: torch.Tensor | None = None) -> torch.Tensor:
        """``widths`` is accepted for a uniform interface: nothing here spans the whole width."""
        return self.collapse(self.features(x)).squeeze(2)


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        mid = _make_divisible(channels // reduction)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, mid, 1)
        self.fc2 = nn.Conv2d(mid, channels, 1)
        self.act = nn.ReLU(inplace=True)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: torch.Tensor, cols: torch.Tensor | None = None) -> torch.Tensor:
        """``cols``: valid columns per sample; the pooled mean then ignores the padding after them."""
        if cols is None:
            pooled = self.pool(x)
        else:
            mask = (torch.arange(x.shape[3], device=x.device)[None, :] < cols[:, None]).to(x.dtype)
            mask = mask[:, None, None, :]  # [B, 1, 1, W]
            pooled = (x * mask).sum((2, 3), keepdim=True) / (mask.sum(3, keepdim=True) * x.shape[2])
        return x * self.gate(self.fc2(self.act(self.fc1(pooled))))


class InvertedResidual(nn.Module):
    """MobileNetV3 block: 1x1 expand, depthwise kxk (optional SE), 1x1 project; residual when shapes match."""

    def __init__(self, cin: int, mid: int, cout: int, kernel: int, stride, se: bool, act: type[nn.Module]) -> None:
        super().__init__()
        self.residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if mid != cin:
            layers.append(_conv_bn(cin, mid, 1, 1, 0, act=act))
        layers.append(_conv_bn(mid, mid, kernel, stride, kernel // 2, groups=mid, act=act))
        if se:
            layers.append(SqueezeExcite(mid))
        layers.append(_conv_bn(mid, cout, 1, 1, 0, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cols: torch.Tensor | None = None) -> torch.Tensor:
        y = x
        for layer in self.block:
            y = layer(y, cols) if isinstance(layer, SqueezeExcite) else layer(y)
        return x + y if self.residual else y


# MobileNetV3-large as adapted for text recognition (PaddleOCR rec): (kernel, expand, out, SE, act, stride).
_MBV3_LARGE = [
    (3, 16, 16, False, "relu", 1), (3, 64, 24, False, "relu", (2, 1)), (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", (2, 1)), (5, 120, 40, True, "relu", 1), (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hswish", 1), (3, 200, 80, False, "hswish", 1), (3, 184, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1), (3, 480, 112, True, "hswish", 1), (3, 672, 112, True, "hswish", 1),
    (5, 672, 160, True, "hswish", (2, 1)), (5, 960, 160, True, "hswish", 1), (5, 960, 160, True, "hswish", 1),
]


class MobileNetV3Backbone(nn.Module):
    """MobileNetV3-large (inverted residuals, SE, hardswish) with a width multiplier ``scale``.

    Stem stride 2, three (2,1) block strides keep the width; a final ``(H/16, 2)`` max pool collapses the
    rows and halves the width: height /16 then collapsed, width /4.
    """

    width_stride = WIDTH_STRIDE

    def __init__(self, scale: float = 0.5, height: int = 32) -> None:
        super().__init__()
        check_height(height)
        if scale <= 0:
            raise AksarError(f"model.scale: expected a positive number, got {scale!r}")
        acts = {"relu": nn.ReLU, "hswish": nn.Hardswish}
        cin = _make_divisible(16 * scale)
        layers: list[nn.Module] = [_conv_bn(1, cin, 3, 2, 1, act=nn.Hardswish)]
        for k, exp, out, se, act, stride in _MBV3_LARGE:
            mid, cout = _make_divisible(scale * exp), _make_divisible(scale * out)
            layers.append(InvertedResidual(cin, mid, cout, k, stride, se, acts[act]))
            cin = cout
        last = _make_divisible(scale * 960)
        layers.append(_conv_bn(cin, last, 1, 1, 0, act=nn.Hardswish))
        rows = height // HEIGHT_STRIDE
        layers.append(nn.MaxPool2d((rows, 2), (rows, 2)))
        self.features = nn.Sequential(*layers)
        self.out_channels = last

    def forward(self, x: torch.Tensor, widths: torch.Tensor | None = None) -> torch.Tensor:
        """``widths`` (true input widths) restrict the squeeze-excite means to each line's columns."""
        stride = 1
        for layer in self.features:
            if isinstance(layer, InvertedResidual):
                x = layer(x, valid_columns(widths, stride))
            else:
                x = layer(x)
                if isinstance(layer, nn.Sequential):  # the stem / last conv: stride of its conv
                    stride *= _width_of(layer[0].stride)
        return x.squeeze(2)


BACKBONES = {
    "small": dict(channels=(32, 64, 128, 128, 192)),
    "medium": dict(channels=(64, 128, 256, 256, 384)),
    "large": dict(channels=(64, 128, 256, 256, 512, 512)),
    "mobilenet": dict(scale=0.5),
}


def build_backbone(name: str, height: int = 32, **kwargs) -> nn.Module:
    """``small | medium | large`` (VGG-style) or ``mobilenet`` (MobileNetV3, ``scale`` kwarg)."""
    if name not in BACKBONES:
        raise AksarError(f"model.backbone: unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    params = {**BACKBONES[name], **kwargs}
    if name == "mobilenet":
        return MobileNetV3Backbone(height=height, **params)
    return VGGBackbone(height=height, **params)
