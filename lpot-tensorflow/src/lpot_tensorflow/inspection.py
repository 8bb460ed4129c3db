"""Per-layer outputs of an FP32/Keras-int8 model or a TFLite model on the same inputs (MSE strategy,
the report's sensitivity chart, TensorBoard). A SavedModel's ops are TFLite ops: its FP32 side is
its float TFLite graph, read the same way as the INT8 one.

A TFLite op computes a layer *and* what the converter fused into it (a Conv2D's BatchNormalization
and ReLU), so the Keras side reads the output of the last fused layer (:func:`fused_tail`) and the
TFLite side the op's output tensor (dequantized): both then mean the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from lpot.data import split_batch
from lpot.recipe import OpKey
from lpot_tensorflow.intermediates import tensor_values
from lpot_tensorflow.runtime import TFLiteModel
from lpot_tensorflow.tensors import is_keras

FUSED_AFTER = ("BatchNormalization", "ReLU")
FUSED_ACTIVATIONS = ("relu", "relu6", "tanh", "linear")


def _consumers(layer: Any) -> list[Any]:
    return [node.operation for node in getattr(layer, "_outbound_nodes", [])]


def fused_tail(layer: Any) -> Any:
    """Follow single-consumer BatchNormalization / ReLU / Activation layers, as TFLite fuses them."""
    current, seen = layer, 0
    while seen < 3:
        nxt = _consumers(current)
        if len(nxt) != 1:
            break
        cand = nxt[0]
        name = type(cand).__name__
        act = getattr(getattr(cand, "activation", None), "__name__", None)
        if name in FUSED_AFTER or (name == "Activation" and act in FUSED_ACTIVATIONS):
            current, seen = cand, seen + 1
            continue
        break
    return current


def inspect_keras(model: Any, dataloader: Iterable[Any], ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    import keras

    top = {layer.name: layer for layer in model.layers}
    names = [op.name for op in ops if op.name in top]
    if not names:
        return {}
    probe = keras.Model(model.inputs, [fused_tail(top[n]).output for n in names])
    captured: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for batch in dataloader:
        outs = probe.predict_on_batch(split_batch(batch)[0])
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for n, value in zip(names, outs):
            captured[n].append(np.asarray(value, dtype=np.float32))
    return {n: np.concatenate(v) for n, v in captured.items() if v}


def inspect_tflite(
    model: TFLiteModel, dataloader: Iterable[Any], ops: Iterable[OpKey]
) -> dict[str, np.ndarray]:
    wanted = {op.name: model.layers[op.name]["outputs"][-1] for op in ops if op.name in model.layers}
    if not wanted:
        return {}
    captured: dict[str, list[np.ndarray]] = {n: [] for n in wanted}
    inputs = (split_batch(batch)[0] for batch in dataloader)
    for values in tensor_values(model, inputs, set(wanted.values())):
        for layer, tensor in wanted.items():
            captured[layer].append(values[tensor])
    return {n: np.concatenate(v) for n, v in captured.items() if v}


def inspect(model: Any, dataloader: Iterable[Any], ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    from lpot_tensorflow.saved_model import SavedModel

    ops = list(ops)
    if isinstance(model, SavedModel):  # FP32 reference: the same TFLite ops, run in float
        return inspect_tflite(model.source.float_model(), dataloader, ops)
    if isinstance(model, TFLiteModel):
        return inspect_tflite(model, dataloader, ops)
    if is_keras(model):
        return inspect_keras(model, dataloader, ops)
    return {}


def op_weights(model: Any, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    """Kernels of Keras layers as they compute (Keras int8 kernels dequantized)."""
    if not is_keras(model):
        return {}
    top = {layer.name: layer for layer in model.layers}
    out = {}
    for op in ops:
        layer = top.get(op.name)
        if layer is None:
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is not None:
            value = np.asarray(keras_numpy(kernel), dtype=np.float32)
            scale = getattr(layer, "kernel_scale", None)
            if scale is not None and getattr(layer, "quantization_mode", None) == "int8":
                value = value / np.asarray(keras_numpy(scale), dtype=np.float32)
            out[op.name] = value
    return out


def keras_numpy(value: Any) -> np.ndarray:
    inner = getattr(value, "value", value)  # a keras.Variable: read its tf.Variable (no __array__ warning)
    return np.asarray(inner.numpy() if hasattr(inner, "numpy") else inner)
