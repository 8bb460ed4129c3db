"""LPOT 1.x's component API, run by lpot: a 1.x script works with only its model and data lines changed.

    from lpot.experimental import Quantization, common
    quantizer = Quantization("conf.yaml")
    quantizer.model = common.Model(model)
    q_model = quantizer()

Each component gathers what the script sets and delegates to lpot's own API (``lpot.tune``,
``lpot.benchmark``, the framework packages' pruning, distillation and QAT conversion); see the
README section "Coming from LPOT 1.x" for the mapping. Importing it imports no framework.
"""

from __future__ import annotations

from typing import Any

from lpot.experimental import common
from lpot.experimental.benchmark import Benchmark
from lpot.experimental.component import Component
from lpot.experimental.distillation import Distillation
from lpot.experimental.graph_optimization import Graph_Optimization, GraphOptimization, MixedPrecision
from lpot.experimental.model_conversion import ModelConversion
from lpot.experimental.pruning import Pruning
from lpot.experimental.quantization import Quantization

__all__ = [
    "Benchmark",
    "Component",
    "Distillation",
    "GraphOptimization",
    "Graph_Optimization",
    "MixedPrecision",
    "ModelConversion",
    "Pruning",
    "Quantization",
    "common",
]

# LPOT 1.x components lpot does not have, and what to use instead
_NOT_HERE = {
    "Scheduler": "run the components one after the other: prune with Pruning, then quantize its result with Quantization",
    "NAS": "neural architecture search is not part of lpot",
    "Pruning_V2": "use Pruning (pruning.approach.weight_compression with !Pruner items)",
}


def __getattr__(name: str) -> Any:
    if name in _NOT_HERE:
        from lpot.errors import FeatureNotAvailableError

        raise FeatureNotAvailableError(f"lpot.experimental.{name} is not available: {_NOT_HERE[name]}")
    raise AttributeError(f"module 'lpot.experimental' has no attribute {name!r}")
