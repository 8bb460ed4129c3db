"""``OnnxRuntimeEngine``: the lpot engine contract over onnx and onnxruntime.

Thin on purpose: each operation lives in its own module (model_io, preprocess, capability,
calibration, quantizer, inspection, sessions); this class wires them to the contract. Evaluation,
benchmarking, fingerprints and artifacts are lpot-core's (:class:`lpot.backend.Backend`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lpot.engine import CalibrationSpec, Feature, Optimized, QuantizeContext, Stats
from lpot.recipe import Approach, Capability, OpKey, Recipe


class OnnxRuntimeEngine:
    """Static (QDQ or QOperator) and dynamic INT8 for ONNX models on ONNX Runtime's CPU provider."""

    name = "onnxrt"
    aliases = {
        "onnxruntime": {},
        "onnxrt_qlinearops": {"format": "qoperator"},
        "onnxrt_qdqops": {"format": "qdq"},
        "onnxrt_integerops": {"approach": Approach.DYNAMIC.value},
    }
    features = frozenset({Feature.INSPECT, Feature.OP_WEIGHTS, Feature.PREPARE, Feature.OPTIMIZE})

    def __init__(self) -> None:
        self._threads: int | None = None
        self._sessions: dict[int, tuple[Any, Any]] = {}  # id(model) -> (model, session), the last one
        self._probe: tuple[Any, tuple[OpKey, ...], Any] | None = None  # (model, ops, Probe)

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        if isinstance(model, (str, Path)):
            return str(model).lower().endswith(".onnx")
        return type(model).__name__ == "ModelProto" and type(model).__module__.startswith("onnx")

    def load(self, model: object) -> Any:
        from lpot_onnxrt.model_io import read_model
        from lpot_onnxrt.preprocess import preprocess

        return preprocess(read_model(model))

    def prepare(self, model: Any, approach: str) -> Any:
        """Dynamic INT8 of a BERT-class encoder starts from ORT's transformer fusions (Attention
        becomes QAttention); static INT8 keeps the unfused graph, whose MatMuls it can quantize."""
        from lpot_onnxrt.preprocess import fuse_for_dynamic

        return fuse_for_dynamic(model) if approach == Approach.DYNAMIC else model

    def optimize(self, model: Any, precisions: tuple[str, ...], keep_fp32: frozenset[str]) -> Optimized:
        from lpot_onnxrt.optimization import optimize_model

        return optimize_model(model, precisions, keep_fp32)

    def capability(self, model: Any, approach: str, objective: str) -> Capability:
        from lpot_onnxrt.capability import build_capability, build_dynamic_capability

        return build_dynamic_capability(model) if approach == Approach.DYNAMIC else build_capability(model)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
        from lpot_onnxrt.calibration import calibrate

        return calibrate(model, batches, spec)

    def quantize(
        self, model: Any, recipe: Recipe, ranges: Mapping[str, tuple[float, float]], context: QuantizeContext
    ) -> Any:
        from lpot_onnxrt.graph_options import BIAS_CORRECTION, CALIBRATED, correct_biases, transform
        from lpot_onnxrt.quantizer import quantize_dynamic, quantize_static

        if recipe.approach == Approach.DYNAMIC:
            return quantize_dynamic(model, recipe)
        graph = {k: v for k, v in recipe.options.items() if k in CALIBRATED}
        source = transform(model, graph, context.artifacts) if graph else model  # as calibrated
        if recipe.options.get(BIAS_CORRECTION) and recipe.quantized_ops():
            return correct_biases(source, lambda m: quantize_static(m, recipe, ranges), context.calibration)
        return quantize_static(source, recipe, ranges)

    # running ------------------------------------------------------------------------------
    def _session(self, model: Any) -> Any:
        from lpot_onnxrt.sessions import make_session

        cached = self._sessions.get(id(model))
        if cached is not None and cached[0] is model:
            return cached[1]
        session = make_session(model)
        self._sessions = {id(model): (model, session)}  # keep one: models change every trial
        return session

    def predict(self, model: Any, inputs: Any) -> dict[str, Any]:
        from lpot_onnxrt.sessions import feeds

        session = self._session(model)
        names = [o.name for o in session.get_outputs()]
        return {n: _array(v) for n, v in zip(names, session.run(None, feeds(session, inputs)))}

    def inspect(self, model: Any, inputs: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        from lpot_onnxrt.inspection import Probe

        ops = tuple(ops)
        if self._probe is None or self._probe[0] is not model or self._probe[1] != ops:
            self._probe = (model, ops, Probe(model, ops))
        return self._probe[2].run(inputs)

    def op_weights(self, model: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        """Weights as each op computes with them (for TensorBoard)."""
        from lpot_onnxrt.inspection import op_weights

        return op_weights(model, ops)

    def set_threads(self, threads: int | None) -> None:
        self._threads = threads

    def runner(self, model: Any) -> Callable[[Any], Callable[[], Any]]:
        from lpot_onnxrt.sessions import feeds, make_session

        session = make_session(model, self._threads)

        def prepare(inputs: Any) -> Callable[[], Any]:
            feed = feeds(session, inputs)
            return lambda: session.run(None, feed)

        return prepare

    # artifacts ----------------------------------------------------------------------------
    def serialize(self, model: Any) -> bytes:
        return model.SerializeToString(deterministic=True)

    def save(self, model: Any, folder: Path) -> Path:
        from lpot_onnxrt.model_io import save_model

        return save_model(model, Path(folder) / "model.onnx")

    def read(self, path: Path) -> Any:
        from lpot_onnxrt.model_io import read_model

        path = Path(path)
        return read_model(path / "model.onnx" if path.is_dir() else path)


def _array(value: Any) -> Any:
    """An output as an array: scikit-learn exports (skl2onnx's ZipMap) give a list of
    ``{class: probability}`` per sample, turned into a samples x classes matrix (classes sorted)."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        import numpy as np

        keys = sorted(value[0])
        return np.asarray([[row[k] for k in keys] for row in value], dtype=np.float32)
    return value
