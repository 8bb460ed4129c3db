"""How to see low precision in a Keras or TFLite model: which layers compute in INT8, weight bytes."""

from __future__ import annotations

from typing import Any

import numpy as np

from lpot_tensorflow.keras_int8 import int8_layers as keras_int8_layers
from lpot_tensorflow.runtime import TFLiteModel


def int8_ops(model: Any) -> set[str]:
    """TFLite: layers whose ops read INT8 activations and INT8 weights. Keras: int8-quantized layers."""
    if isinstance(model, TFLiteModel):
        return model.int8_layers()
    return keras_int8_layers(model)


def float_layers(model: TFLiteModel) -> set[str]:
    """Layers whose TFLite ops all compute on float tensors (activations and weights)."""
    by_output = {op.output: op for op in model.ops()}
    return {
        path
        for path, entry in model.layers.items()
        if all(by_output[o].input_type == 0 and by_output[o].weight_type == 0 for o in entry["outputs"])
    }


def weight_bytes(model: Any) -> int:
    """Bytes of the layers' kernels as stored: INT8 1 byte each, FP32 4."""
    if isinstance(model, TFLiteModel):
        return sum(
            op.weight_bytes for op in model.ops() if op.weight_type is not None and op.kind in WEIGHTED
        )
    total = 0
    for layer in model.layers:
        for w in layer.weights:
            if w.path.endswith("kernel"):
                total += int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize
    return total


WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "CONV_3D", "BATCH_MATMUL")
