"""Training-time compression, framework-neutral: pruning and distillation settings, sparsity
schedules, sparsity patterns (masks from scores, in numpy) and sparsity reports.

The framework packages apply them with their own idioms: torch parametrizations driven by a small
callback object (lpot-pytorch), Keras callbacks (lpot-tensorflow).
"""

from lpot.compression.config import (
    DistillationConfig,
    PrunerSpec,
    PruningConfig,
    parse_distillation,
    parse_pruning,
)
from lpot.compression.patterns import Pattern, parse_pattern
from lpot.compression.schedules import sparsity_at

__all__ = [
    "DistillationConfig",
    "Pattern",
    "PrunerSpec",
    "PruningConfig",
    "parse_distillation",
    "parse_pattern",
    "parse_pruning",
    "sparsity_at",
]
