"""Exhaustive search: every recipe of the space, fewest FP32 ops first.

Order: recipes with no op in FP32, then those with one, two, ... (so with the loop's default of
stopping at the first recipe that meets the criterion, the answer keeps as many ops INT8 as any
recipe can). Within one count, the sets of FP32 ops in graph order (``itertools.combinations``);
within one set, the quantized ops' configs in capability order (defaults first, the last op
varying fastest); innermost, backend options and calibration sampling sizes.

A space larger than ``limit`` recipes (default 100 000) is refused before any trial: at seconds per
trial such a search cannot finish, and cutting it with ``max_trials`` would only try the first few
config combinations. Narrow the space with ``quantization.model_wise`` / ``op_wise`` rules, pick
another strategy, or set ``tuning.strategy.params.limit: 0`` to enumerate in this order anyway.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from lpot.errors import ConfigError
from lpot.recipe import Recipe
from lpot.strategies._space import Grid
from lpot.strategies.base import Batch, Search, SearchContext, SearchStrategy

DEFAULT_LIMIT = 100_000


class ExhaustiveStrategy(SearchStrategy):
    name = "exhaustive"

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"tuning.strategy.params.limit: expected an integer >= 0, got {limit!r}")
        self.limit = limit

    def setup(self, context: SearchContext) -> None:
        space = context.space
        size = Grid(space).size
        if self.limit and size > self.limit:
            raise ConfigError(
                f"the exhaustive strategy would enumerate {_magnitude(size)} recipes "
                f"({len(space.tunable_ops)} tunable ops), more than its limit of {self.limit}. Narrow the "
                "space with quantization.model_wise / op_wise rules (e.g. a single activation algorithm "
                "and weight granularity), choose another strategy (basic, sensitivity, tpe), or set "
                "tuning.strategy.params.limit: 0 to enumerate in order until the exit policy stops it."
            )
        super().setup(context)

    def search(self) -> Search:
        grid = Grid(self.space)
        yield Batch(self._enumerate(grid))  # every recipe is independent of the others' results
        self.stop_reason = f"space exhausted: all {grid.size} recipes tried"

    def _enumerate(self, grid: Grid) -> Iterator[tuple[str, Recipe]]:
        n_ops = len(grid.ops)
        model_wise = [range(len(d.values)) for d in grid.dims[n_ops:]]
        count = 0
        for k in range(n_ops + 1):
            for fp32 in itertools.combinations(range(n_ops), k):
                per_op = [
                    [len(grid.dims[i].values) - 1] if i in fp32 else range(len(grid.dims[i].values) - 1)
                    for i in range(n_ops)
                ]
                for point in itertools.product(*per_op, *model_wise):
                    count += 1
                    yield f"exhaustive {count}/{grid.size} ({k} fp32)", grid.recipe(point)


def _magnitude(n: int) -> str:
    return f"{n:,}" if n < 10**12 else f"about 10^{len(str(n)) - 1}"
