"""``OnnxRuntimeBackend``: lpot's Backend protocol over onnx and onnxruntime.

Thin on purpose: each operation lives in its own module (model_io, preprocess, capability,
calibration, quantizer, inspection, benchmarking); this class wires them to the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lpot.backend import BenchmarkResult, CalibrationSpec, DataLoader, Metric, Stats, evaluate_batches
from lpot.recipe import Capability, OpKey, Recipe

STATIC = "post_training_static_quant"
DYNAMIC = "post_training_dynamic_quant"


class OnnxRuntimeBackend:
    """Static (QDQ or QOperator) and dynamic INT8 for ONNX models on ONNX Runtime's CPU provider."""

    name = "onnxrt"

    def __init__(self) -> None:
        self._sessions: dict[int, tuple[Any, Any]] = {}  # id(model) -> (model, session), last few only

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        if isinstance(model, (str, Path)):
            return str(model).lower().endswith(".onnx")
        return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")

    def load_model(self, model: object) -> Any:
        from lpot_onnxrt.model_io import read_model
        from lpot_onnxrt.preprocess import preprocess

        return preprocess(read_model(model))

    def fingerprint(self, model: Any) -> str:
        from lpot_onnxrt.model_io import fingerprint

        return fingerprint(model)

    def capability(self, model: Any, approach: str = STATIC) -> Capability:
        from lpot_onnxrt.capability import build_capability, build_dynamic_capability

        return build_dynamic_capability(model) if approach == DYNAMIC else build_capability(model)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, dataloader: DataLoader, spec: CalibrationSpec) -> Stats:
        from lpot_onnxrt.calibration import calibrate

        return calibrate(model, dataloader, spec)

    def quantize(
        self, model: Any, recipe: Recipe, stats: Mapping[str, Stats], dataloader: DataLoader | None = None
    ) -> Any:
        from lpot_onnxrt.quantizer import quantize_dynamic, quantize_static

        if recipe.approach == DYNAMIC:
            return quantize_dynamic(model, recipe)
        return quantize_static(model, recipe, stats)

    # running ------------------------------------------------------------------------------
    def _session(self, model: Any) -> Any:
        from lpot_onnxrt.sessions import make_session

        cached = self._sessions.get(id(model))
        if cached is not None and cached[0] is model:
            return cached[1]
        session = make_session(model)
        self._sessions = {id(model): (model, session)}  # keep one: models change every trial
        return session

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        from lpot_onnxrt.sessions import feeds

        session = self._session(model)
        return session.run(None, feeds(session, inputs))[0]

    def evaluate(self, model: Any, dataloader: DataLoader, metric: Metric) -> float:
        return evaluate_batches(self.predict, model, dataloader, metric)

    def inspect(self, model: Any, dataloader: DataLoader, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        from lpot_onnxrt.inspection import inspect

        return inspect(model, dataloader, ops)

    def op_weights(self, model: Any, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        """Optional protocol member: weights as each op computes with them (for TensorBoard)."""
        from lpot_onnxrt.inspection import op_weights

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
        from lpot_onnxrt.benchmarking import benchmark

        return benchmark(
            model,
            dataloader,
            cores_per_instance=cores_per_instance,
            num_instances=num_instances,
            warmup=warmup,
            iterations=iterations,
        )

    # artifacts ----------------------------------------------------------------------------
    def model_size(self, model: Any) -> int:
        return model.ByteSize()

    def save(self, model: Any, path: Path) -> Path:
        from lpot_onnxrt.model_io import save_model

        return save_model(model, Path(path))

    def load(self, path: Path) -> Any:
        from lpot_onnxrt.model_io import read_model

        return read_model(Path(path))
