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
