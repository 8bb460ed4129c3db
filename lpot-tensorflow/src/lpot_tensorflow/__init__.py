"""lpot's TensorFlow/Keras 3 backend: TFLite full-integer INT8, Keras QAT callbacks, Keras int8 weights.

Importing this package does not import tensorflow or keras: the backend, the callback and
:func:`convert` import them when first used (``lpot_tensorflow.QuantizationAwareCallback`` is
resolved lazily).
"""

from __future__ import annotations

from typing import Any

from lpot_tensorflow.version import __version__

__all__ = [
    "DistillationCallback",
    "TensorFlowBackend",
    "TensorFlowEngine",
    "PruningCallback",
    "QuantizationAwareCallback",
    "SavedModel",
    "TFLiteModel",
    "__version__",
    "convert",
    "prepare_qat",
]

_LAZY = {
    "TensorFlowEngine": "lpot_tensorflow.engine",
    "TensorFlowBackend": "lpot_tensorflow.engine",  # the name earlier releases used
    "QuantizationAwareCallback": "lpot_tensorflow.qat",
    "convert": "lpot_tensorflow.qat",
    "prepare_qat": "lpot_tensorflow.qat",
    "TFLiteModel": "lpot_tensorflow.runtime",
    "SavedModel": "lpot_tensorflow.saved_model",
    "PruningCallback": "lpot_tensorflow.pruning",
    "DistillationCallback": "lpot_tensorflow.distillation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lpot_tensorflow' has no attribute {name!r}")
    import importlib

    return getattr(
        importlib.import_module(module), "TensorFlowEngine" if name == "TensorFlowBackend" else name
    )


def __dir__() -> list[str]:
    """The public names (``__all__``), loaded or not, without the helpers this module imports."""
    return sorted(__all__)
