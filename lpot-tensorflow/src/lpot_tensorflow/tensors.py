"""Inputs and outputs across Keras and TFLite models, as numpy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def to_numpy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_numpy(v) for v in value]
    return np.asarray(value)


def first_output(outputs: Any) -> np.ndarray:
    if isinstance(outputs, Mapping):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        outputs = outputs[0]
    return np.asarray(outputs)


def named(model: Any, outputs: Any) -> dict[str, np.ndarray]:
    """Every output of one batch by name, in the model's order: a dict as it is, a list by the Keras
    model's ``output_names`` where it has them (else ``output_0``...), one array as ``output``."""
    if isinstance(outputs, Mapping):
        return {str(k): np.asarray(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        names = list(getattr(model, "output_names", None) or [])
        if len(names) != len(outputs):
            names = [f"output_{i}" for i in range(len(outputs))]
        return {n: np.asarray(v) for n, v in zip(names, outputs)}
    return {"output": np.asarray(outputs)}


def is_keras(model: Any) -> bool:
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.Model)


def run(model: Any, inputs: Any) -> Any:
    """One batch through a Keras model (compiled predict function) or a TFLiteModel, numpy out."""
    if is_keras(model):
        try:
            return to_numpy(model.predict_on_batch(inputs))
        except (TypeError, NotImplementedError) as exc:  # Python logic on symbolic tensors
            from lpot_tensorflow.keras_source import conversion_error

            raise conversion_error(model, exc) from exc
    return model(inputs)
