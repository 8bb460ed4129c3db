"""Symbolic tracing with errors that name the module that could not be traced.

torch.fx fails deep inside its proxy machinery ("symbolically traced variables cannot be used as
inputs to control flow"); users need to know *which* submodule did it and what to do: keep it out
of the graph as a leaf (``leaf_modules=[name]``; it then stays FP32). A failure in the top-level
forward itself (no leaf can help) is what sends static INT8 to the torch.export + pt2e lowering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import fx

from lpot.errors import ModelError, first_line


class _RecordingTracer(fx.Tracer):
    """A tracer that remembers the stack of modules it is inside and treats named ones as leaves."""

    def __init__(self, leaf_modules: Sequence[str] = ()) -> None:
        super().__init__()
        self.leaves = set(leaf_modules)
        self.stack: list[str] = []
        self.failed_in: str | None = None  # the innermost module whose forward raised

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return module_qualified_name in self.leaves or super().is_leaf_module(m, module_qualified_name)

    def call_module(self, m: torch.nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        self.stack.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failed_in is None:
                self.failed_in = self.stack[-1]
            raise
        finally:
            self.stack.pop()


class UntraceableError(ModelError):
    """torch.fx could not trace the model; ``where`` names the submodule ("" for the top level)."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def check_traceable(model: torch.nn.Module, leaf_modules: Sequence[str] = ()) -> fx.Graph:
    """Trace ``model`` once; on failure raise an UntraceableError naming the innermost module being traced."""
    tracer = _RecordingTracer(leaf_modules)
    try:
        return tracer.trace(model)
    except Exception as exc:  # torch.fx raises TraceError, TypeError, RuntimeError... all alike here
        where = tracer.failed_in or ""
        culprit = (
            f"module '{where}' ({type(model.get_submodule(where)).__name__})"
            if where
            else f"the top-level forward of {type(model).__name__}"
        )
        hint = (
            f"mark it as a leaf so it stays FP32 and opaque to the graph passes: "
            f"PyTorchBackend(leaf_modules=['{where}'])"
            if where
            else _top_level_hint(model)
        )
        raise UntraceableError(
            f"torch.fx cannot trace {culprit}: {type(exc).__name__}: {first_line(exc)}; {hint}", where
        ) from exc


def _top_level_hint(model: torch.nn.Module) -> str:
    """Advice for a failure in the top-level forward, where no leaf module can help: static INT8 then
    goes through torch.export (which traces with real shapes), and dynamic INT8 needs no graph."""
    is_hf = any(
        c.__module__.startswith("transformers.") and c.__name__ == "PreTrainedModel"
        for c in type(model).__mro__
    )
    why = (
        "transformers models build their attention masks with Python control flow that legacy torch.fx "
        "cannot follow (transformers 5 ships no fx tracer)"
        if is_hf
        else "marking submodules as leaves cannot remove Python control flow written in the top-level forward"
    )
    return (
        f"{why}; static INT8 of such a model goes through torch.export + pt2e instead: "
        "PyTorchBackend(lowering='auto') (the default; needs torchao) or lowering='pt2e'. Quantization-aware "
        "training needs the FX graph: quantize dynamically instead (quantization: approach: "
        "post_training_dynamic_quant, INT8 Linear weights with no graph)"
    )
