"""EfficientNet-Lite0 read off the torch model as plain layers with numpy weights.

The Keras and Gluon rebuilds are made from this description, so both copy exactly what the torch
model computes: each conv's weight, stride, groups and the TensorFlow-style "same" padding its
``Conv2dStaticSamePadding`` applies, the BatchNorm that follows it, whether a ReLU6 follows, and
where a block adds its input back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ConvBN:
    """conv (no bias) -> BatchNorm (inference) -> ReLU6 when ``relu6``."""

    name: str
    weight: np.ndarray  # torch layout: out, in / groups, kh, kw
    stride: int
    groups: int
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float
    relu6: bool

    @property
    def out_channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def kernel(self) -> int:
        return int(self.weight.shape[-1])

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.out_channels


@dataclass(frozen=True)
class Block:
    """One MBConv block: its ConvBN chain and whether the block input is added to its output."""

    convs: tuple[ConvBN, ...]
    residual: bool


@dataclass(frozen=True)
class EfficientNetLayers:
    stem: ConvBN
    blocks: tuple[Block, ...]
    head: ConvBN
    fc_weight: np.ndarray  # out, in
    fc_bias: np.ndarray


def _numpy(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().numpy().astype(np.float32)


def _conv_bn(name: str, conv: Any, bn: Any, relu6: bool) -> ConvBN:
    pad = getattr(conv.static_padding, "padding", (0, 0, 0, 0))  # ZeroPad2d: left, right, top, bottom
    left, right, top, bottom = (int(p) for p in pad)
    if tuple(int(p) for p in conv.padding) != (0, 0) or conv.dilation != (1, 1):
        raise ValueError(f"{name}: expected a same-padded conv without dilation, got {conv}")
    return ConvBN(
        name=name,
        weight=_numpy(conv.weight),
        stride=int(conv.stride[0]),
        groups=int(conv.groups),
        pad=(top, bottom, left, right),
        gamma=_numpy(bn.weight),
        beta=_numpy(bn.bias),
        mean=_numpy(bn.running_mean),
        var=_numpy(bn.running_var),
        eps=float(bn.eps),
        relu6=relu6,
    )


def _block(index: int, block: Any) -> Block:
    args = block._block_args
    if block.has_se:
        raise ValueError("squeeze-excitation blocks are not part of EfficientNet-Lite")
    convs = []
    if args.expand_ratio != 1:
        convs.append(_conv_bn(f"blocks_{index}_expand", block._expand_conv, block._bn0, True))
    convs.append(_conv_bn(f"blocks_{index}_depthwise", block._depthwise_conv, block._bn1, True))
    convs.append(_conv_bn(f"blocks_{index}_project", block._project_conv, block._bn2, False))
    residual = bool(args.id_skip and args.stride == 1 and args.input_filters == args.output_filters)
    return Block(tuple(convs), residual)


def efficientnet_layers(model: Any) -> EfficientNetLayers:
    """The layers of an ``efficientnet_lite_pytorch.EfficientNet`` (Lite variants: ReLU6, no SE)."""
    return EfficientNetLayers(
        stem=_conv_bn("stem", model._conv_stem, model._bn0, True),
        blocks=tuple(_block(i, b) for i, b in enumerate(model._blocks)),
        head=_conv_bn("head", model._conv_head, model._bn1, True),
        fc_weight=_numpy(model._fc.weight),
        fc_bias=_numpy(model._fc.bias),
    )


def torch_layers() -> EfficientNetLayers:
    """The layers of the real pretrained model (needs torch and the two EfficientNet wheels)."""
    from lpot_zoo.efficientnet import load_efficientnet_lite0

    return efficientnet_layers(load_efficientnet_lite0())
