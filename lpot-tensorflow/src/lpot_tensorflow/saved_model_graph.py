"""A SavedModel signature as a :class:`~lpot_tensorflow.sources.GraphSource`: converted by
``TFLiteConverter.from_saved_model``, its ops are the weighted ops of the TFLite graph.

Names: with no layers to go by, an op is named after its weight tensor, whose TF name TFLite keeps
(``digits_cnn_1/conv1_1/convolution``), minus the TF op at the end (``digits_cnn_1/conv1_1``); a
name already taken gets ``#2``, ``#3`` in graph order. They depend only on the SavedModel and the
converter, so a resumed run finds the same ones, and so does every quantized graph (the quantizer
keeps weight names; the output names it changes are read again from each result).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from lpot.errors import ModelError, QuantizationError
from lpot.recipe import OpKey
from lpot_tensorflow import tflite
from lpot_tensorflow.runtime import TFLiteModel

if TYPE_CHECKING:
    from lpot_tensorflow.saved_model import SavedModel


def op_name(weight_name: str) -> str:
    first = weight_name.split(";")[0]
    scope = first.rpartition("/")[0]
    return scope or first


def op_table(content: bytes) -> dict[str, tflite.LayerOps]:
    """``{op name: its TFLite op}`` for the ops with a stored weight, in graph order."""
    table: dict[str, tflite.LayerOps] = {}
    for op in tflite.weighted_ops(content):
        if not op.constant:  # a batch matmul of two activations: nothing to hold in INT8
            continue
        base = name = op_name(op.weight_name)
        n = 1
        while name in table:
            n += 1
            name = f"{base}#{n}"
        table[name] = tflite.LayerOps(op.kind, [op.output])
    return table


class SavedModelGraph:
    """How lpot converts one SavedModel signature and finds its ops; caches the float TFLite graph."""

    keras_layers = False

    def __init__(self, model: SavedModel) -> None:
        self.model = model
        self._float: TFLiteModel | None = None

    @property
    def name(self) -> str:
        return f"SavedModel {str(self.model.path)!r} (signature {self.model.signature!r})"

    @contextlib.contextmanager
    def converter(self) -> Iterator[Any]:
        import tensorflow as tf

        yield tf.lite.TFLiteConverter.from_saved_model(
            str(self.model.path), signature_keys=[self.model.signature]
        )

    def inputs(self) -> list[str]:
        return list(self.model.input_order)

    def feed(self, batch: Any) -> dict[str, np.ndarray]:
        return self.model.feeds(batch)  # the calibrator maps a dict onto the signature's inputs

    def zeros(self) -> dict[str, np.ndarray]:
        out = {}
        for name, spec in self.model.specs.items():
            if spec.shape.rank is None:
                raise QuantizationError(
                    f"{self.name}: input {name!r} has no known rank, so no calibrated graph can be "
                    "rebuilt without data; calibrate first (a resumed run needs one batch seen)"
                )
            dims = [1] + [d if d is not None else 1 for d in spec.shape.as_list()[1:]]
            out[name] = np.zeros(dims, dtype=spec.dtype.as_numpy_dtype)
        return out

    def float_model(self) -> TFLiteModel:
        """The signature as a float TFLite model that knows its ops (capability, FP32 inspection)."""
        if self._float is None:
            content = tflite.convert(self)
            meta = {
                "layers": {name: entry.to_dict() for name, entry in op_table(content).items()},
                "inputs": self.inputs(),
            }
            self._float = TFLiteModel(tflite.embed_metadata(content, meta))
        return self._float

    def ops(self) -> list[OpKey]:
        return [OpKey(name, entry["class"]) for name, entry in self.float_model().layers.items()]

    def has_attention(self) -> bool:
        kinds = {op.kind for op in self.float_model().ops()}
        return bool(kinds & {"BATCH_MATMUL", "SOFTMAX", "RSQRT"})

    def locate(self, content: bytes) -> dict[str, tflite.LayerOps]:
        return op_table(content)

    def conversion_error(self, exc: Exception) -> Exception:
        unsupported = tflite.unsupported_ops(exc)
        if unsupported:
            return QuantizationError(
                f"TFLite cannot convert op(s) {', '.join(unsupported)} of {self.name}: INT8 TFLite has "
                "no kernels for them. Export the model from TFLite-supported ops, or tune its Keras "
                "model (a keras.Model has the keras_int8 family, which needs no TFLite)"
            )
        return ModelError(
            f"{self.name}: the TFLite converter failed ({type(exc).__name__}: {tflite.first_line(exc)})"
        )
