"""``PyTorchBackend``: lpot's Backend protocol over torch.fx quantization passes on the x86 engine.

Thin on purpose: tracing, capability, calibration, quantizer, inspection, benchmarking and
serialization each live in their own module; this class wires them to the protocol.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpot.backend import BenchmarkResult, CalibrationSpec, DataLoader, Metric, Stats, evaluate_batches
from lpot.data import split_batch
from lpot.errors import ModelError
from lpot.recipe import Capability, OpKey, Recipe

STATIC = "post_training_static_quant"


class PyTorchBackend:
    """INT8 (static, dynamic, QAT) and BF16 for ``torch.nn.Module`` models on CPU.

    ``leaf_modules``: qualified names of submodules torch.fx must not trace into (data-dependent
    control flow); they stay FP32.
    """

    name = "pytorch"

    def __init__(self, leaf_modules: Sequence[str] = ()) -> None:
        self.leaf_modules = tuple(leaf_modules)
        self._example: Any = None  # one input batch seen, for tracing when scripting fails

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        torch = sys.modules.get("torch")  # a torch model means torch is imported: never import it here
        return torch is not None and isinstance(model, torch.nn.Module)

    def load_model(self, model: object) -> Any:
        import copy

        import torch

        if isinstance(model, (str, Path)):
            raise ModelError(
                f"{model}: lpot-pytorch tunes a torch.nn.Module object; load your model in Python and "
                "pass it to lpot.tune (paths are not unpickled)"
            )
        if not isinstance(model, torch.nn.Module):
            raise ModelError(f"expected a torch.nn.Module, got {type(model).__name__}")
        return copy.deepcopy(model).eval()

    def fingerprint(self, model: Any) -> str:
        from lpot_pytorch.serialization import fingerprint

        return fingerprint(model)

    def capability(self, model: Any, approach: str = STATIC) -> Capability:
        from lpot_pytorch.capability import DYNAMIC, build_capability
        from lpot_pytorch.tracing import check_traceable

        if approach != DYNAMIC:  # static and QAT need a graph: fail now, naming the module
            check_traceable(model, self.leaf_modules)
        return build_capability(model, approach, self.leaf_modules)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, dataloader: DataLoader, spec: CalibrationSpec) -> Stats:
        from lpot_pytorch.calibration import calibrate

        return calibrate(model, self._remember(dataloader), spec, self.leaf_modules)

    def quantize(
        self,
        model: Any,
        recipe: Recipe,
        stats: Mapping[str, Stats],
        dataloader: DataLoader | None = None,
        *,
        q_func: Callable[[Any], Any] | None = None,
    ) -> Any:
        from lpot_pytorch.quantizer import quantize

        return quantize(model, recipe, stats, q_func=q_func, leaf_modules=self.leaf_modules)

    # running ------------------------------------------------------------------------------
    def _remember(self, dataloader: Iterable[Any]) -> Iterable[Any]:
        for batch in dataloader:
            if self._example is None:
                from lpot_pytorch.tensors import to_torch

                self._example = to_torch(split_batch(batch)[0])
            yield batch

    def predict(self, model: Any, inputs: Any) -> np.ndarray:
        from lpot_pytorch.tensors import predict, to_torch

        if self._example is None:
            self._example = to_torch(inputs)
        return predict(model, inputs)

    def evaluate(self, model: Any, dataloader: DataLoader, metric: Metric) -> float:
        return evaluate_batches(self.predict, model, dataloader, metric)

    def inspect(self, model: Any, dataloader: DataLoader, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        from lpot_pytorch.inspection import inspect

        return inspect(model, dataloader, ops)

    def op_weights(self, model: Any, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        """Optional protocol member: weights as each op computes with them (for TensorBoard)."""
        from lpot_pytorch.inspection import op_weights

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
        from lpot_pytorch.benchmarking import benchmark

        return benchmark(
            model,
            self._remember(dataloader),
            cores_per_instance=cores_per_instance,
            num_instances=num_instances,
            warmup=warmup,
            iterations=iterations,
            example=self._example,
        )

    # artifacts ----------------------------------------------------------------------------
    def model_size(self, model: Any) -> int:
        from lpot_pytorch.serialization import state_bytes

        return len(state_bytes(model))

    def save(self, model: Any, path: Path) -> Path:
        from lpot_pytorch.serialization import save

        return save(model, Path(path), self._example)

    def load(self, path: Path) -> Any:
        from lpot_pytorch.serialization import load

        return load(Path(path))
