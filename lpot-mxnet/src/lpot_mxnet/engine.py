"""``MXNetEngine``: the lpot engine contract over MXNet Gluon and its oneDNN quantization.

Thin on purpose: each operation lives in its own module (graph, model_io, capability, calibration,
quantizer, inspection); this class wires them to the contract and keeps the FP32 graph of the model
being tuned, which every trial starts from. Evaluation, benchmarking, fingerprints and artifacts are
lpot-core's (:class:`lpot.backend.Backend`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from lpot.engine import CalibrationSpec, Feature, QuantizeContext, Stats
from lpot.errors import ModelError
from lpot.recipe import Capability, OpKey, Recipe


class MXNetEngine:
    """Static INT8 through oneDNN for Gluon HybridBlocks, with BF16 layers where MXNet runs BF16
    faster than FP32 on this machine (see :mod:`lpot_mxnet.amx`)."""

    name = "mxnet"
    aliases: dict[str, dict[str, Any]] = {}
    features = frozenset({Feature.INSPECT, Feature.BF16})

    def __init__(self) -> None:
        self._graph_cache: tuple[Any, Any] | None = None  # (model, Graph): the last FP32 model exported
        self._layers: dict[int, tuple[Any, list[OpKey]]] = {}
        self._probe: tuple[Any, tuple[OpKey, ...], Any] | None = None

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        try:
            from lpot_mxnet.model_io import is_gluon_block, is_symbol_pair, symbol_file

            if isinstance(model, (str, Path)):
                return symbol_file(Path(model)) is not None
            return is_gluon_block(model) or is_symbol_pair(model)
        except Exception:
            return False

    def load(self, model: object) -> Any:
        from lpot_mxnet.graph import trace
        from lpot_mxnet.model_io import block_from_pair, is_symbol_pair, read_model

        if isinstance(model, (str, Path)):
            return read_model(Path(model))
        if is_symbol_pair(model):
            return block_from_pair(model)
        trace(model)  # a plain gluon.Block is refused here, with its name
        return model

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

    def capability(self, model: Any, approach: str, objective: str) -> Capability:
        from lpot_mxnet.capability import bf16_offered, build_capability_from_layers, layer_tensors
        from lpot_mxnet.graph import has_graph

        tensors = layer_tensors(self._graph(model).fused()) if has_graph(model) else {}
        return build_capability_from_layers(self._quantizable(model), bf16=bf16_offered(), tensors=tensors)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
        from lpot_mxnet.calibration import calibrate
        from lpot_mxnet.graph import has_graph, trace

        batches = list(batches)
        if not has_graph(model) and batches:
            trace(model, batches[0])
        return calibrate(self._graph(model), batches, spec)

    def quantize(
        self, model: Any, recipe: Recipe, ranges: Mapping[str, tuple[float, float]], context: QuantizeContext
    ) -> Any:
        from lpot_mxnet.quantizer import quantize

        if not recipe.quantized_ops() and not any(c.activation.dtype == "bf16" for c in recipe.ops.values()):
            return model
        return quantize(self._graph(model), self._quantizable(model), recipe, ranges)

    # running ------------------------------------------------------------------------------
    def _arrays(self, model: Any, inputs: Any) -> list[Any]:
        from lpot_mxnet.graph import has_graph, to_ndarrays

        names = [s.name for s in model._cached_graph[0]] if has_graph(model) else None
        return to_ndarrays(inputs, names)

    def predict(self, model: Any, inputs: Any) -> dict[str, Any]:
        import numpy as np

        out = model(*self._arrays(model, inputs))
        if not isinstance(out, (list, tuple)):
            return {"output": out.asnumpy().astype(np.float32, copy=False)}
        return {f"output_{i}": o.asnumpy().astype(np.float32, copy=False) for i, o in enumerate(out)}

    def inspect(self, model: Any, inputs: Any, ops: Iterable[OpKey]) -> dict[str, Any]:
        from lpot_mxnet.inspection import Probe

        ops = tuple(ops)
        if self._probe is None or self._probe[0] is not model or self._probe[1] != ops:
            self._probe = (model, ops, Probe(model, ops))
        return self._probe[2].run(inputs)

    def set_threads(self, threads: int | None) -> None:
        """MXNet reads OMP_NUM_THREADS when it is imported: effective in a fresh benchmark process
        (which also asks for AMX when the parent enabled it); in this process it changes nothing."""
        from lpot_mxnet.amx import INHERIT, enable_amx

        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
        if os.environ.get(INHERIT) == "1":
            enable_amx()

    def runner(self, model: Any) -> Callable[[Any], Callable[[], Any]]:
        def prepare(inputs: Any) -> Callable[[], Any]:
            arrays = self._arrays(model, inputs)

            def run() -> None:  # MXNet's engine is asynchronous: wait until the outputs exist
                out = model(*arrays)
                for array in out if isinstance(out, (list, tuple)) else [out]:
                    array.wait_to_read()

            return run

        return prepare

    # artifacts ----------------------------------------------------------------------------
    def serialize(self, model: Any) -> bytes:
        from lpot_mxnet.model_io import content_bytes

        return content_bytes(model)

    def save(self, model: Any, folder: Path) -> Path:
        from lpot_mxnet.model_io import save_model

        return save_model(model, Path(folder))

    def read(self, path: Path) -> Any:
        from lpot_mxnet.model_io import read_model

        path = Path(path)
        if not path.exists() and not Path(f"{path}-symbol.json").exists():
            raise ModelError(f"model file {str(path)!r} does not exist")
        block = read_model(path)
        block.hybridize(static_alloc=True, static_shape=True)
        return block
