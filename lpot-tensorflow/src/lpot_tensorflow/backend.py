"""``TensorFlowBackend``: lpot's Backend protocol for Keras 3 models and SavedModels, lowered to
TFLite INT8.

Thin on purpose: layers, capability, calibration, tflite, quantizer, runtime, inspection,
benchmarking and serialization each live in their own module; this class wires them together and
keeps the one piece of state calibration-once needs: the calibrated float TFLite graph per model.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpot.backend import BenchmarkResult, CalibrationSpec, DataLoader, Metric, Stats, evaluate_batches
from lpot.data import split_batch
from lpot.errors import ConfigError, ModelError
from lpot.recipe import Capability, OpKey, Recipe

STATIC = "post_training_static_quant"


class TensorFlowBackend:
    """TFLite full-integer INT8 (per-op fallback), Keras int8 weights and QAT for Keras 3 models;
    TFLite INT8 for SavedModel folders.

    ``formats``: the recipe families the tuner may use (default ``("tflite",)``, plus
    ``"keras_int8"`` when ``objective`` is ``model_size`` or ``footprint``). ``objective`` is the
    tuning objective the caller optimizes; lpot's core does not tell backends, so pass it here
    when it is not ``performance``. ``signature``: the SavedModel signature to tune (default
    ``serving_default``).
    """

    name = "tensorflow"

    def __init__(
        self,
        formats: Sequence[str] | None = None,
        objective: str | None = None,
        signature: str | None = None,
    ) -> None:
        from lpot_tensorflow.capability import FORMATS

        unknown = [f for f in formats or () if f not in FORMATS]
        if unknown:
            raise ConfigError(f"TensorFlowBackend(formats=...): unknown {unknown}; known: {list(FORMATS)}")
        self.formats = tuple(formats) if formats else None
        self.objective = objective
        self.signature = signature
        self._templates: dict[str, Any] = {}  # model fingerprint -> calibration.Template
        self._example: Any = None  # one real input batch, to rebuild a template without data

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        from lpot_tensorflow.runtime import TFLiteModel
        from lpot_tensorflow.saved_model import SavedModel, enclosing_saved_model, is_saved_model

        if isinstance(model, (str, Path)):
            path = Path(model)  # a file inside a SavedModel too: load_model then says what to pass
            return path.suffix == ".keras" or is_saved_model(path) or enclosing_saved_model(path) is not None
        keras = sys.modules.get("keras")  # a Keras model means keras is imported: never import it here
        if keras is not None and isinstance(model, keras.Model):
            return True
        return isinstance(model, (TFLiteModel, SavedModel))

    def load_model(self, model: object) -> Any:
        from lpot_tensorflow.saved_model import SavedModel

        if isinstance(model, SavedModel):
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

    def fingerprint(self, model: Any) -> str:
        from lpot_tensorflow.serialization import fingerprint

        return fingerprint(model)

    def capability(self, model: Any, approach: str = STATIC) -> Capability:
        from lpot_tensorflow.capability import build_capability

        return build_capability(model, approach, formats=self.formats, objective=self.objective)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, dataloader: DataLoader, spec: CalibrationSpec) -> Stats:
        from lpot_tensorflow.calibration import calibrate

        stats, template = calibrate(model, self._remember(dataloader), spec)
        self._templates[self.fingerprint(model)] = template
        return stats

    def template(self, model: Any) -> Any:
        """The calibrated float TFLite graph of ``model``: cached, or rebuilt from one synthetic batch
        (a resumed run: every range is then replaced by the stored statistics)."""
        from lpot_tensorflow.calibration import template_from_example

        key = self.fingerprint(model)
        if key not in self._templates:
            self._templates[key] = template_from_example(model, self._example)
        return self._templates[key]

    def quantize(
        self,
        model: Any,
        recipe: Recipe,
        stats: Mapping[str, Stats],
        dataloader: DataLoader | None = None,
        *,
        q_func: Callable[[Any], Any] | None = None,
    ) -> Any:
        from lpot_tensorflow.quantizer import quantize

        return quantize(
            model, recipe, stats, lambda: self.template(model), q_func=q_func, dataloader=dataloader
        )

    # running ------------------------------------------------------------------------------
    def _remember(self, dataloader: Iterable[Any]) -> Iterable[Any]:
        for batch in dataloader:
            if self._example is None:
                self._example = split_batch(batch)[0]
            yield batch

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        from lpot_tensorflow.tensors import first_output, run

        return first_output(run(model, inputs))

    def evaluate(self, model: Any, dataloader: DataLoader, metric: Metric) -> float:
        return evaluate_batches(self.predict, model, dataloader, metric)

    def inspect(self, model: Any, dataloader: DataLoader, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        from lpot_tensorflow.inspection import inspect

        return inspect(model, dataloader, ops)

    def op_weights(self, model: Any, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        """Optional protocol member: Keras kernels as each layer computes with them (TensorBoard)."""
        from lpot_tensorflow.inspection import op_weights

        return op_weights(model, ops)

    def benchmark(
        self,
        model: Any,
        dataloader: DataLoader,
        *,
        cores_per_instance: int | None = None,
        num_instances: int = 1,
        warmup: int = 5,
        iterations: int = 50,
    ) -> BenchmarkResult:
        from lpot_tensorflow.benchmarking import benchmark

        return benchmark(
            model,
            self._remember(dataloader),
            cores_per_instance=cores_per_instance,
            num_instances=num_instances,
            warmup=warmup,
            iterations=iterations,
        )

    # artifacts ----------------------------------------------------------------------------
    def model_size(self, model: Any) -> int:
        from lpot_tensorflow.serialization import model_size

        return model_size(model)

    def save(self, model: Any, path: Path) -> Path:
        from lpot_tensorflow.serialization import save

        return save(model, Path(path))

    def load(self, path: Path) -> Any:
        from lpot_tensorflow.serialization import load

        return load(Path(path), self.signature)
