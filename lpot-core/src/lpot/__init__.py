"""lpot: accuracy-driven low-precision tuning of deep-learning models.

The public surface is small and lazy: importing ``lpot`` imports no framework and nothing heavy;
``lpot.tune`` and friends load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lpot.version import __version__

__all__ = [
    "ArrayLoader",
    "Benchmark",
    "Config",
    "LpotError",
    "Quantization",
    "Recipe",
    "TuningResult",
    "__version__",
    "benchmark",
    "common",
    "load_config",
    "optimize",
    "tune",
]

_LAZY = {
    "tune": "lpot.api",
    "optimize": "lpot.optimization",
    "benchmark": "lpot.benchmarking",
    "Config": "lpot.config",
    "load_config": "lpot.config",
    "ArrayLoader": "lpot.data",
    "LpotError": "lpot.errors",
    "Recipe": "lpot.recipe",
    "TuningResult": "lpot.tuning.result",
    # LPOT 1.x's top-level API: the 1.0-1.2 call ``Quantization(conf)(model, ...)`` and ``common``
    "Quantization": "lpot.experimental.legacy",
    "Benchmark": "lpot.experimental.legacy",
    "common": "lpot.experimental",
}

if TYPE_CHECKING:
    from lpot.api import tune
    from lpot.benchmarking import benchmark
    from lpot.config import Config, load_config
    from lpot.data import ArrayLoader
    from lpot.errors import LpotError
    from lpot.experimental import common
    from lpot.experimental.legacy import Benchmark, Quantization
    from lpot.optimization import optimize
    from lpot.recipe import Recipe
    from lpot.tuning.result import TuningResult


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lpot' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
