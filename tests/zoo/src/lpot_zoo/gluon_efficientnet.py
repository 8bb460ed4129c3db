"""EfficientNet-Lite0 rebuilt as an MXNet Gluon ``HybridBlock`` (NCHW) with the real weights copied.

Gluon's ``Conv2D`` pads symmetrically; the five stride-2 convolutions whose "same" padding is
asymmetric get an explicit ``pad`` first. ReLU6 is ``clip(x, 0, 6)``, the form MXNet's oneDNN
passes fuse into the convolution.
"""

from __future__ import annotations

from typing import Any

from lpot_zoo.efficientnet_layers import ConvBN, EfficientNetLayers, torch_layers


def _conv_bn_block(spec: ConvBN) -> Any:
    from mxnet.gluon import nn

    class ConvBNBlock(nn.HybridBlock):
        def __init__(self) -> None:
            super().__init__(prefix=f"{spec.name}_")
            top, bottom, left, right = spec.pad
            self._symmetric = top == bottom and left == right
            self._pad_width = (0, 0, 0, 0, top, bottom, left, right)
            padding = (top, left) if self._symmetric else (0, 0)
            with self.name_scope():
                self.conv = nn.Conv2D(
                    spec.out_channels,
                    spec.kernel,
                    spec.stride,
                    padding,
                    groups=spec.groups,
                    use_bias=False,
                    in_channels=spec.weight.shape[1] * spec.groups,
                )
                self.bn = nn.BatchNorm(epsilon=spec.eps, in_channels=spec.out_channels)

        def hybrid_forward(self, F: Any, x: Any) -> Any:
            if not self._symmetric:
                x = F.pad(x, mode="constant", pad_width=self._pad_width, constant_value=0)
            x = self.bn(self.conv(x))
            return F.clip(x, 0, 6) if spec.relu6 else x

    block = ConvBNBlock()
    block.initialize()
    block.conv.weight.set_data(_nd(spec.weight))
    for param, value in (
        ("gamma", spec.gamma),
        ("beta", spec.beta),
        ("running_mean", spec.mean),
        ("running_var", spec.var),
    ):
        getattr(block.bn, param).set_data(_nd(value))
    return block


def _nd(array: Any) -> Any:
    import mxnet as mx

    return mx.nd.array(array, dtype="float32")


def build_gluon_efficientnet_lite0(
    layers: EfficientNetLayers | None = None, *, hybridize: bool = True
) -> Any:
    """A Gluon net: 1x3x224x224 ImageNet-normalized NCHW in, 1000 logits out."""
    from mxnet.gluon import nn

    layers = layers or torch_layers()

    class MBConv(nn.HybridBlock):
        def __init__(self, index: int, convs: tuple[ConvBN, ...], residual: bool) -> None:
            super().__init__(prefix=f"blocks_{index}_")
            self.residual = residual
            with self.name_scope():
                self.body = nn.HybridSequential(prefix="")
                for spec in convs:
                    self.body.add(_conv_bn_block(spec))

        def hybrid_forward(self, F: Any, x: Any) -> Any:
            out = self.body(x)
            return out + x if self.residual else out

    net = nn.HybridSequential(prefix="efficientnet_lite0_")
    with net.name_scope():
        net.add(_conv_bn_block(layers.stem))
        for index, block in enumerate(layers.blocks):
            net.add(MBConv(index, block.convs, block.residual))
        net.add(_conv_bn_block(layers.head))
        net.add(nn.GlobalAvgPool2D(), nn.Flatten())
        fc = nn.Dense(layers.fc_weight.shape[0], in_units=layers.fc_weight.shape[1])
        net.add(fc)
    fc.initialize()
    fc.weight.set_data(_nd(layers.fc_weight))
    fc.bias.set_data(_nd(layers.fc_bias))
    if hybridize:
        net.hybridize()
    return net
