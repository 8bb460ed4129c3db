"""``TensorFlowEngine``: the lpot engine contract for Keras 3 models and SavedModels, lowered to
TFLite INT8.

Thin on purpose: layers, capability, calibration, tflite, quantizer, runtime, inspection and
serialization each live in their own module; this class wires them to the contract. The one
artifact of calibration, the calibrated float TFLite graph every trial quantizes from, travels
with the statistics (``Stats.artifacts``), so lpot's calibration store keeps it across a resume.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lpot.engine import CalibrationSpec, Feature, QuantizeContext, Stats
from lpot.errors import ConfigError, ModelError, QuantizationError
from lpot.recipe import Capability, OpKey, Recipe


class TensorFlowEngine:
    """TFLite full-integer INT8 (per-op fallback), Keras int8 weights and QAT for Keras 3 models;
    TFLite INT8 for SavedModel folders.

    ``formats``: the recipe families the tuner may use (default ``("tflite",)``, plus
    ``"keras_int8"`` when the tuning objective is ``model_size`` or ``footprint``). ``signature``:
    the SavedModel signature to tune (default ``serving_default``).
    """

    name = "tensorflow"
    aliases = {
        "keras": {},
        "tensorflow_itex": {
            "unavailable": "Intel Extension for TensorFlow (ITEX) is not supported by lpot; use framework: "
            "tensorflow (TFLite full-integer INT8 through lpot-tensorflow)"
        },
    }
    features = frozenset({Feature.INSPECT, Feature.OP_WEIGHTS, Feature.QAT, Feature.BF16})

    def __init__(self, formats: Sequence[str] | None = None, signature: str | None = None) -> None:
        from lpot_tensorflow.capability import FORMATS

        unknown = [f for f in formats or () if f not in FORMATS]
        if unknown:
            raise ConfigError(f"TensorFlowBackend(formats=...): unknown {unknown}; known: {list(FORMATS)}")
        self.formats = tuple(formats) if formats else None
        self.signature = signature
        self._templates: dict[str, Any] = {}  # sha of the calibrated graph -> calibration.Template
        self._threads: int | None = None

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        from lpot_tensorflow.runtime import TFLiteModel
        from lpot_tensorflow.saved_model import SavedModel, enclosing_saved_model, is_saved_model

        if isinstance(model, (str, Path)):
            path = Path(model)  # a file inside a SavedModel too: load then says what to pass
            return (
                path.suffix in (".keras", ".tflite")
                or is_saved_model(path)
                or enclosing_saved_model(path) is not None
            )
        keras = sys.modules.get("keras")  # a Keras model means keras is imported: never import it here
        if keras is not None and isinstance(model, keras.Model):
            return True
        return isinstance(model, (TFLiteModel, SavedModel))

    def load(self, model: object) -> Any:
        from lpot_tensorflow.runtime import TFLiteModel
        from lpot_tensorflow.saved_model import SavedModel

        if isinstance(model, (SavedModel, TFLiteModel)):  # a TFLite model runs and benchmarks as it is
            return model
        if isinstance(model, (str, Path)):
            from lpot_tensorflow.serialization import load

            return load(Path(model), self.signature)
        import keras

        if not isinstance(model, keras.Model):
            raise ModelError(f"expected a keras.Model, got {type(model).__name__}")
        if not model.built:
            raise ModelError(
                f"{type(model).__name__} {model.name!r} has no known inputs: build it (call it once on a "
                "batch, or keras.Input(...) in a Functional model) before tuning"
            )
        return model

    def capability(self, model: Any, approach: str, objective: str) -> Capability:
        from lpot_tensorflow.capability import build_capability

        return build_capability(model, approach, formats=self.formats, objective=objective)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
        from lpot_tensorflow.calibration import calibrate

        return calibrate(model, batches, spec)

    def _template(self, model: Any, artifacts: Mapping[str, bytes]) -> Any:
        from lpot_tensorflow.calibration import TEMPLATE, template_of

        content = artifacts.get(TEMPLATE)
        if content is None:
            raise QuantizationError(
                "no calibrated TFLite graph came with the statistics: calibrate this model first"
            )
        key = hashlib.sha256(content).hexdigest()
        if key not in self._templates:
            self._templates = {key: template_of(model, content)}  # one model per run
        return self._templates[key]

    def quantize(
        self, model: Any, recipe: Recipe, ranges: Mapping[str, tuple[float, float]], context: QuantizeContext
    ) -> Any:
        from lpot_tensorflow.quantizer import quantize

        return quantize(
            model,
            recipe,
            ranges,
            lambda: self._template(model, context.artifacts),
            q_func=context.train,
            calibration=context.calibration,
        )

    # running ------------------------------------------------------------------------------
    def predict(self, model: Any, inputs: Any) -> dict[str, Any]:
        from lpot_tensorflow.tensors import named, run

        return named(model, run(model, inputs))

    def inspect(self, model: Any, inputs: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        from lpot_tensorflow.inspection import inspect

        return inspect(model, [inputs], ops)

    def op_weights(self, model: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        """Keras kernels as each layer computes with them (TensorBoard)."""
        from lpot_tensorflow.inspection import op_weights

        return op_weights(model, ops)

    def set_threads(self, threads: int | None) -> None:
        """TFLite interpreters take their thread count per model; TensorFlow fixes its pools when it
        initializes, so in a fresh benchmark process they are set before any model is read."""
        self._threads = threads
        if threads and "tensorflow" not in sys.modules:
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)

    def runner(self, model: Any) -> Callable[[Any], Callable[[], Any]]:
        from lpot_tensorflow.runtime import TFLiteModel
        from lpot_tensorflow.tensors import run

        if isinstance(model, TFLiteModel) and self._threads:
            model = TFLiteModel(model.content, num_threads=self._threads)
        return lambda inputs: lambda: run(model, inputs)

    # artifacts ----------------------------------------------------------------------------
    def serialize(self, model: Any) -> bytes:
        from lpot_tensorflow.serialization import content_bytes

        return content_bytes(model)

    def save(self, model: Any, folder: Path) -> Path:
        from lpot_tensorflow.serialization import save

        return save(model, Path(folder))

    def read(self, path: Path) -> Any:
        from lpot_tensorflow.serialization import load

        return load(Path(path), self.signature)
