"""lpot: accuracy-driven low-precision tuning of deep-learning models.

The public surface is small and lazy: importing ``lpot`` imports no framework and nothing heavy
(not even ``typing``: ``import lpot`` takes a few milliseconds); ``lpot.tune`` and friends load on
first use. ``dir(lpot)`` lists exactly the public names, loaded or not.
"""

from __future__ import annotations

from lpot.version import __version__

TYPE_CHECKING = False  # typing's own flag, without importing typing (type checkers treat it the same)

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


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lpot' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names (what ``from lpot import *`` gives), not the submodules loaded so far."""
    return sorted(__all__)
