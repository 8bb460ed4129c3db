"""How to see low precision in a Keras, SavedModel or TFLite model: which ops compute in INT8, weight bytes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from lpot_tensorflow.keras_int8 import int8_layers as keras_int8_layers
from lpot_tensorflow.runtime import TFLiteModel, interpreter_class
from lpot_tensorflow.saved_model import SavedModel
from lpot_tensorflow.tflite import INT8_TYPES


def int8_ops(model: Any) -> set[str]:
    """TFLite: tuned ops whose TFLite ops read INT8 activations and INT8 weights. Keras: int8-quantized
    layers. A SavedModel is FP32."""
    if isinstance(model, TFLiteModel):
        return model.int8_layers()
    if isinstance(model, SavedModel):
        return set()
    return keras_int8_layers(model)


def int8_kernels(model: TFLiteModel) -> Counter[str]:
    """TFLite op types computing with INT8 activations and INT8 weights, counted."""
    return Counter(
        op.kind for op in model.ops() if op.input_type in INT8_TYPES and op.weight_type in INT8_TYPES
    )


def interpreter_op_types(model: TFLiteModel, op: str) -> list[tuple[str, list[str]]]:
    """What the LiteRT interpreter runs for the tuned op ``op``: (op type, operand dtypes) per node."""
    interpreter = interpreter_class()(model_content=model.content)  # not allocated: no delegate yet
    names = {d["index"]: d["name"] for d in interpreter.get_tensor_details()}
    outputs = set(model.layers[op]["outputs"])
    return [
        (node["op_name"], [np.dtype(t).name for t in node["operand_types"]])
        for node in interpreter._get_ops_details()
        if names.get(node["outputs"][0]) in outputs
    ]


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
    if isinstance(model, SavedModel):  # its kernels as its float TFLite graph stores them
        model = model.source.float_model()
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


def calibration_specs(trials: Any) -> set[tuple[str, int]]:
    """The (algorithm, sampling size) pairs a tuning run's trials needed statistics for."""
    return {(a, t.recipe.calib_sampling_size) for t in trials for a in t.recipe.calibration_algorithms()}


def kernel_dtypes(model: TFLiteModel) -> dict[str, set[str]]:
    """Per TFLite op type, the dtypes of the first operand of its nodes as the interpreter runs them."""
    interpreter = interpreter_class()(model_content=model.content)
    found: dict[str, set[str]] = {}
    for node in interpreter._get_ops_details():
        if node["operand_types"]:
            found.setdefault(node["op_name"], set()).add(np.dtype(node["operand_types"][0]).name)
    return found


def tf_backend(**kwargs: Any) -> Any:
    """The core adapter around a TensorFlowEngine (registered by name when it has no settings, so
    benchmark instances and workers load the same one)."""
    from lpot.backend import Backend
    from lpot_tensorflow.engine import TensorFlowEngine

    return Backend(TensorFlowEngine(**kwargs), registered=None if kwargs else "tensorflow")
