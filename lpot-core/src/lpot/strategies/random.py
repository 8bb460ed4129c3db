"""Random search: the default recipe, then recipes drawn uniformly from the space, never twice.

Each tunable op takes one of its choices (every quantized config and FP32) with equal chance, or
FP32 with probability ``fallback_probability`` when given; backend options and the sampling size
are drawn uniformly. Draws come from ``random.Random(seed)``: the same seed and the same results
give the same proposals, which is what makes resume exact.
"""

from __future__ import annotations

import random as _random
from collections.abc import Iterator

from lpot.errors import ConfigError
from lpot.recipe import Recipe
from lpot.strategies._space import Grid
from lpot.strategies.base import Batch, Search, SearchStrategy


class RandomStrategy(SearchStrategy):
    name = "random"

    def __init__(self, fallback_probability: float | None = None, max_draws: int = 1000) -> None:
        if fallback_probability is not None and not 0.0 <= fallback_probability <= 1.0:
            raise ConfigError(
                f"tuning.strategy.params.fallback_probability: expected 0..1, got {fallback_probability!r}"
            )
        self.fallback_probability = fallback_probability
        self.max_draws = max_draws

    def search(self) -> Search:
        yield Batch(self._draws())  # draws never depend on results: in parallel on a parallel executor

    def _draws(self) -> Iterator[tuple[str, Recipe]]:
        grid = Grid(self.space)
        rng = _random.Random(self.seed)
        point = grid.default()
        seen = {point}
        yield "default", grid.recipe(point)
        n = 0
        while len(seen) < grid.size:
            for _ in range(self.max_draws):
                point = self._draw(grid, rng)
                if point not in seen:
                    break
            else:
                self.stop_reason = (
                    f"no untried recipe in {self.max_draws} random draws ({len(seen)} of {grid.size} tried)"
                )
                return
            seen.add(point)
            n += 1
            yield f"random #{n} ({grid.fp32_count(point)} fp32)", grid.recipe(point)
        self.stop_reason = f"space exhausted: all {grid.size} recipes tried"

    def _draw(self, grid: Grid, rng: _random.Random) -> tuple[int, ...]:
        out = []
        for i, dim in enumerate(grid.dims):
            k = len(dim.values)
            if i < len(grid.ops) and self.fallback_probability is not None:
                fp32 = rng.random() < self.fallback_probability
                out.append(k - 1 if fp32 else rng.randrange(k - 1))
            else:
                out.append(rng.randrange(k))
        return tuple(out)
