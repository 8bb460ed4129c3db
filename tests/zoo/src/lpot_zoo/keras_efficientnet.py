"""EfficientNet-Lite0 rebuilt in Keras 3 (NHWC) with the real weights copied from the torch model.

Explicit ``ZeroPadding2D`` + ``valid`` convolutions reproduce the torch model's asymmetric "same"
padding exactly; the layers are named after the torch modules (``blocks_3_depthwise_conv``...).
"""

from __future__ import annotations

from typing import Any

from lpot_zoo.efficientnet_layers import ConvBN, EfficientNetLayers, torch_layers


def _conv_bn(x: Any, spec: ConvBN) -> Any:
    import keras

    top, bottom, left, right = spec.pad
    if any(spec.pad):
        x = keras.layers.ZeroPadding2D(((top, bottom), (left, right)), name=f"{spec.name}_pad")(x)
    if spec.depthwise:
        conv = keras.layers.DepthwiseConv2D(
            spec.kernel, spec.stride, use_bias=False, name=f"{spec.name}_conv"
        )
        kernel = spec.weight.transpose(2, 3, 0, 1)  # out, 1, kh, kw -> kh, kw, in, 1
    elif spec.groups == 1:
        conv = keras.layers.Conv2D(
            spec.out_channels, spec.kernel, spec.stride, use_bias=False, name=f"{spec.name}_conv"
        )
        kernel = spec.weight.transpose(2, 3, 1, 0)  # out, in, kh, kw -> kh, kw, in, out
    else:
        raise ValueError(f"{spec.name}: grouped convolution with {spec.groups} groups")
    x = conv(x)
    conv.set_weights([kernel])
    bn = keras.layers.BatchNormalization(epsilon=spec.eps, name=f"{spec.name}_bn")
    x = bn(x)
    bn.set_weights([spec.gamma, spec.beta, spec.mean, spec.var])
    return keras.layers.ReLU(max_value=6.0, name=f"{spec.name}_relu6")(x) if spec.relu6 else x


def build_keras_efficientnet_lite0(layers: EfficientNetLayers | None = None) -> Any:
    """A functional ``keras.Model``: 224x224x3 ImageNet-normalized NHWC in, 1000 logits out."""
    import keras

    layers = layers or torch_layers()
    inputs = keras.Input((224, 224, 3), name="images")
    x = _conv_bn(inputs, layers.stem)
    for index, block in enumerate(layers.blocks):
        shortcut = x
        for spec in block.convs:
            x = _conv_bn(x, spec)
        if block.residual:
            x = keras.layers.Add(name=f"blocks_{index}_add")([x, shortcut])
    x = _conv_bn(x, layers.head)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    fc = keras.layers.Dense(layers.fc_weight.shape[0], name="fc")
    logits = fc(x)
    fc.set_weights([layers.fc_weight.T, layers.fc_bias])
    return keras.Model(inputs, logits, name="efficientnet_lite0")
