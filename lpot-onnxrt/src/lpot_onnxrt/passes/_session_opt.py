"""ONNX Runtime's session-level graph optimizer, run once and saved back as a ModelProto."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import onnx

from lpot.errors import ConfigError, QuantizationError

LEVELS = {"basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}


def bake(model: onnx.ModelProto, level: str, disabled: Sequence[str] = ()) -> onnx.ModelProto:
    """The graph ORT would run at ``level`` (``SessionOptions.optimized_model_filepath``)."""
    import onnxruntime as ort

    if level not in LEVELS:
        raise ConfigError(f"graph optimization level {level!r}: expected one of {sorted(LEVELS)}")
    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory(prefix="lpot-ort-opt-") as tmp:
        out = Path(tmp) / "optimized.onnx"
        options.optimized_model_filepath = str(out)
        try:
            ort.InferenceSession(
                model.SerializeToString(),
                options,
                providers=["CPUExecutionProvider"],
                disabled_optimizers=list(disabled),
            )
        except Exception as exc:
            raise QuantizationError(
                f"ONNX Runtime could not optimize the graph at level {level!r}: {type(exc).__name__}: {exc}"
            ) from exc
        return onnx.load_model(str(out))
