"""The seam between lpot's TFLite path and what it converts: a Keras model or a SavedModel signature.

Calibration, quantization, capability and inspection need only a converter, batches in the
converter's form, the tuned ops and a way to find them in a TFLite graph; what is Keras- or
SavedModel-specific stays behind this protocol (:mod:`~lpot_tensorflow.keras_source`,
:mod:`~lpot_tensorflow.saved_model_graph`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

from lpot.recipe import OpKey

if TYPE_CHECKING:
    from lpot_tensorflow.tflite import LayerOps


class GraphSource(Protocol):
    """A model lpot converts to TFLite."""

    name: str  # how errors and logs name the model
    keras_layers: bool  # the Keras-only families (keras_int8, keras_bf16, QAT) can apply

    def converter(self) -> AbstractContextManager[Any]:
        """A float ``tf.lite.TFLiteConverter`` for the model, valid inside the block."""

    def inputs(self) -> list[str]:
        """Input names, in the order a list of input arrays follows."""

    def feed(self, batch: Any) -> Any:
        """One batch as the converter's representative dataset yields it."""

    def zeros(self) -> Any:
        """One all-zero batch of the input shapes: rebuilds a calibrated graph without data."""

    def ops(self) -> list[OpKey]:
        """The ops a recipe chooses INT8 or FP32 for, in graph order."""

    def has_attention(self) -> bool:
        """Softmax, normalisation or activation x activation matmuls: the weightless arithmetic whose
        INT8 TFLite kernels are slow (``int8_ops: weighted`` first)."""

    def locate(self, content: bytes) -> dict[str, LayerOps]:
        """The TFLite ops of each tuned op in ``content`` (a graph converted from this source)."""

    def conversion_error(self, exc: Exception) -> Exception:
        """A converter failure as an lpot error naming the model and the fix."""


def source_for(model: Any) -> GraphSource:
    from lpot_tensorflow.saved_model import SavedModel

    if isinstance(model, SavedModel):
        return model.source
    from lpot_tensorflow.keras_source import KerasSource

    return KerasSource(model)
