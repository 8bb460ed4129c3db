"""Shared pieces of the global searchers (random, exhaustive, bayesian, tpe).

A recipe is a point in a grid: one coordinate per tunable op (its quantized configs in the
capability's order, defaults first, then FP32), one per backend option, one for the calibration
sampling size when there are several. Searchers work on those integer coordinates; this module turns
them into recipes and back, and scores a finished trial as one number to maximize.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from lpot.errors import PluginError
from lpot.recipe import FP32_OP, OpConfig, OpKey, Recipe
from lpot.space import TuningSpace
from lpot.trial import OK, Trial


@dataclass(frozen=True)
class Dimension:
    """One coordinate of the grid: a name (for samplers) and its values, default first."""

    name: str
    values: tuple[Any, ...]


class Grid:
    """The recipe space of a :class:`TuningSpace` as integer coordinates."""

    def __init__(self, space: TuningSpace) -> None:
        self.space = space
        self.ops: tuple[OpKey, ...] = space.tunable_ops
        dims = [Dimension(f"op{i}:{op.name}", (*space.choices[op], FP32_OP)) for i, op in enumerate(self.ops)]
        dims += [Dimension(f"option:{key}", tuple(values)) for key, values in space.options.items()]
        dims.append(Dimension("calib_sampling_size", tuple(space.sampling_sizes)))
        self.dims: tuple[Dimension, ...] = tuple(dims)

    @property
    def size(self) -> int:
        return math.prod(len(d.values) for d in self.dims)

    def default(self) -> tuple[int, ...]:
        return (0,) * len(self.dims)

    def recipe(self, point: Sequence[int]) -> Recipe:
        """The recipe at integer coordinates ``point`` (one index per dimension)."""
        n = len(self.ops)
        base = self.space.default_recipe()
        ops: dict[OpKey, OpConfig] = {op: self.dims[i].values[point[i]] for i, op in enumerate(self.ops)}
        options = {d.name.split(":", 1)[1]: d.values[i] for d, i in zip(self.dims[n:-1], point[n:-1])}
        return Recipe(
            approach=base.approach,
            ops={**base.ops, **ops},
            calib_sampling_size=self.dims[-1].values[point[-1]],
            options=options,
        )

    def fp32_count(self, point: Sequence[int]) -> int:
        return sum(1 for i in range(len(self.ops)) if point[i] == len(self.dims[i].values) - 1)


def fallback(space: TuningSpace, recipe: Recipe, ops: Sequence[OpKey]) -> Recipe:
    """``recipe`` with ``ops`` out of INT8, as the space says ops fall back (BF16 where the backend
    offers it, when the space knows such a rule), else FP32."""
    return space.fallback(recipe, ops)


def target(trial: Trial, score: float) -> float:
    """One number to maximize: meeting the criterion first, then (among met) INT8 share.

    Met trials score in [1, 2] by the share of tunable ops left in INT8, a deterministic proxy of
    speed and size (the loop still picks the best met trial by the measured objective, but a
    search steered by noisy latencies could not be replayed on resume). Unmet trials score in
    (-2, 0) by their oriented accuracy ``score``; failed trials score -2.
    """
    if trial.status != OK or math.isnan(score) or math.isinf(score):
        return -2.0
    if trial.met:
        ops = trial.recipe.ops
        return 1.0 + (len(trial.recipe.quantized_ops()) / len(ops) if ops else 0.0)
    return score / (1.0 + abs(score)) - 1.0


def require(module: str, extra: str, strategy: str) -> ModuleType:
    """Import an optional dependency of a strategy, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise PluginError(
            f"the {strategy!r} strategy needs the {module!r} package, which is not installed ({exc}). "
            f"Install it with: pip install 'lpot-core[{extra}]'"
        ) from exc
