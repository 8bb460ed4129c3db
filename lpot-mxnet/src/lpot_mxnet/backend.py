"""``MXNetBackend``: lpot's Backend protocol over MXNet Gluon and its oneDNN quantization.

Thin on purpose: each operation lives in its own module (graph, model_io, capability, calibration,
quantizer, inspection, benchmarking); this class wires them to the protocol and
keeps the FP32 graph of the model being tuned, which every trial starts from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lpot.backend import BenchmarkResult, CalibrationSpec, DataLoader, Metric, Stats, evaluate_batches
from lpot.data import split_batch
from lpot.errors import ModelError
from lpot.recipe import Capability, OpKey, Recipe

STATIC = "post_training_static_quant"


class MXNetBackend:
    """Static INT8 through oneDNN for Gluon HybridBlocks, with BF16 layers where MXNet runs BF16
    faster than FP32 on this machine (see :mod:`lpot_mxnet.amx`)."""

    name = "mxnet"

    def __init__(self) -> None:
        self._graph_cache: tuple[Any, Any] | None = None  # (model, Graph): the last FP32 model exported
        self._layers: dict[int, tuple[Any, list[OpKey]]] = {}

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        try:
            from lpot_mxnet.model_io import is_gluon_block, is_symbol_pair, symbol_file

            if isinstance(model, (str, Path)):
                return symbol_file(Path(model)) is not None
            return is_gluon_block(model) or is_symbol_pair(model)
        except Exception:
            return False

    def load_model(self, model: object) -> Any:
        from lpot_mxnet.graph import trace
        from lpot_mxnet.model_io import block_from_pair, is_symbol_pair, read_model

        if isinstance(model, (str, Path)):
            return read_model(Path(model))
        if is_symbol_pair(model):
            return block_from_pair(model)
        trace(model)  # a plain gluon.Block is refused here, with its name
        return model

    def fingerprint(self, model: Any) -> str:
        from lpot_mxnet.model_io import fingerprint

        return fingerprint(model)

    def _graph(self, model: Any) -> Any:
        from lpot_mxnet.graph import export_graph

        if self._graph_cache is None or self._graph_cache[0] is not model:
            self._graph_cache = (model, export_graph(model))
        return self._graph_cache[1]

    def _quantizable(self, model: Any) -> list[OpKey]:
        from lpot_mxnet.capability import quantizable_layers
        from lpot_mxnet.graph import has_graph, symbol_of

        cached = self._layers.get(id(model))
        if cached is None or cached[0] is not model:
            symbol = symbol_of(model)
            data = [s.name for s in model._cached_graph[0]] if has_graph(model) else ["data"]
            self._layers = {id(model): (model, quantizable_layers(symbol, data))}
        return self._layers[id(model)][1]

    def capability(self, model: Any, approach: str = STATIC) -> Capability:
        from lpot_mxnet.capability import bf16_offered, build_capability_from_layers

        return build_capability_from_layers(self._quantizable(model), bf16=bf16_offered())

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, dataloader: DataLoader, spec: CalibrationSpec) -> Stats:
        from lpot_mxnet.calibration import calibrate
        from lpot_mxnet.graph import has_graph, trace

        if not has_graph(model):
            first = next(iter(dataloader), None)
            if first is not None:
                trace(model, split_batch(first)[0])
        return calibrate(self._graph(model), dataloader, spec)

    def quantize(
        self, model: Any, recipe: Recipe, stats: Mapping[str, Stats], dataloader: DataLoader | None = None
    ) -> Any:
        from lpot_mxnet.quantizer import quantize

        if not recipe.quantized_ops() and not any(c.activation.dtype == "bf16" for c in recipe.ops.values()):
            return model
        return quantize(self._graph(model), self._quantizable(model), recipe, stats)

    # running ------------------------------------------------------------------------------
    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        from lpot_mxnet.graph import has_graph, to_ndarrays

        names = [s.name for s in model._cached_graph[0]] if has_graph(model) else None
        out = model(*to_ndarrays(inputs, names))
        first = out[0] if isinstance(out, (list, tuple)) else out
        return first.asnumpy().astype(np.float32, copy=False)

    def evaluate(self, model: Any, dataloader: DataLoader, metric: Metric) -> float:
        return evaluate_batches(self.predict, model, dataloader, metric)

    def inspect(self, model: Any, dataloader: DataLoader, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        from lpot_mxnet.inspection import inspect

        return inspect(model, dataloader, ops)

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
        from lpot_mxnet.benchmarking import benchmark

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
        from lpot_mxnet.model_io import model_size

        return model_size(model)

    def save(self, model: Any, path: Path) -> Path:
        from lpot_mxnet.model_io import save_model

        return save_model(model, Path(path))

    def load(self, path: Path) -> Any:
        from lpot_mxnet.model_io import read_model

        if not Path(path).exists() and not Path(f"{path}-symbol.json").exists():
            raise ModelError(f"model file {str(path)!r} does not exist")
        return read_model(Path(path))
