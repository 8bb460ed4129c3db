"""Bayesian optimization over the discrete recipe space (the ``bayesian-optimization`` package).

Each dimension of the space (an op's choices: its quantized configs then FP32; a backend option; the
sampling size) becomes a continuous interval [0, k) of the box; a point maps to a recipe by taking
the floor of each coordinate. The Gaussian process models the target of :func:`target`: meeting the
accuracy criterion first, then the share of ops in INT8 (a deterministic proxy of the objective),
else the accuracy. Ask/tell through ``suggest`` / ``register``.

The default recipe comes first, then ``init_points`` random points, then the optimizer's
suggestions. The grid is discrete: a point is a cell, and refining the acquisition maximum inside a
cell by gradient (the package's L-BFGS-B / "smart" stage, ~1 s per suggestion) cannot change the
recipe, so the acquisition is maximized over its random sample only (~35 ms). A suggestion that lands on a recipe already tried is registered with the known target
(no trial) and the optimizer asked again; after ``max_repeats`` such suggestions in a row an untried
recipe is drawn at random instead. All randomness is seeded by the run's ``random_seed``.

On a parallel executor (``workers`` > 1) it proposes ``workers`` recipes at a time with a constant
liar (see :meth:`BayesianStrategy._batches`), told together when all finish.
"""

from __future__ import annotations

import inspect
import math
import random as _random
from collections.abc import Callable
from typing import Any

from lpot.strategies._space import Grid, require, target
from lpot.strategies.base import Batch, Search, SearchStrategy


class BayesianStrategy(SearchStrategy):
    name = "bayesian"
    requires = {"bayes_opt": "lpot-core[bayesian]"}

    def __init__(self, init_points: int = 3, max_repeats: int = 5, kappa: float = 2.576) -> None:
        self._bayes_opt = require("bayes_opt", "bayesian", self.name)
        self.init_points = init_points
        self.max_repeats = max_repeats
        self.kappa = kappa

    def search(self) -> Search:
        bayes_opt = self._bayes_opt
        grid = Grid(self.space)
        names = [d.name for d in grid.dims]
        bounds = {name: (0.0, float(len(d.values))) for name, d in zip(names, grid.dims)}
        optimizer = bayes_opt.BayesianOptimization(
            f=None,
            pbounds=bounds,
            acquisition_function=_sampled_only(bayes_opt.acquisition.UpperConfidenceBound)(kappa=self.kappa),
            random_state=self.seed,
            verbose=0,
            allow_duplicate_points=True,
        )
        rng = _random.Random(self.seed)
        known: dict[tuple[int, ...], float] = {}

        def snap(params: dict[str, float]) -> tuple[int, ...]:
            return tuple(min(int(math.floor(params[n])), len(d.values) - 1) for n, d in zip(names, grid.dims))

        def centre(point: tuple[int, ...]) -> dict[str, float]:
            return {n: i + 0.5 for n, i in zip(names, point)}

        def untried() -> tuple[int, ...] | None:
            for _ in range(1000):
                point = tuple(rng.randrange(len(d.values)) for d in grid.dims)
                if point not in known:
                    return point
            return None

        if self.workers > 1:
            yield from self._batches(grid, optimizer, known, snap, centre, untried)
            return
        step = 0
        while len(known) < grid.size:
            step += 1
            stage, point = "default", grid.default()
            if step > 1 and step <= 1 + self.init_points:
                stage, point = "random init", untried()
            elif step > 1:
                stage, point = "suggested", None
                for _ in range(self.max_repeats):
                    params = optimizer.suggest()
                    if snap(params) not in known:
                        point = snap(params)
                        break
                    optimizer.register(params=params, target=known[snap(params)])
                if point is None:
                    stage, point = "random (suggestions repeated)", untried()
            if point is None:
                break
            trial = yield f"bayesian {step} {stage} ({grid.fp32_count(point)} fp32)", grid.recipe(point)
            known[point] = target(trial, self.score(trial))
            optimizer.register(params=centre(point), target=known[point])
        self.stop_reason = (
            f"space exhausted: all {grid.size} recipes tried"
            if len(known) >= grid.size
            else f"no untried recipe found ({len(known)} of {grid.size} tried)"
        )

    def _batches(
        self,
        grid: Grid,
        optimizer: Any,
        known: dict[tuple[int, ...], float],
        snap: Callable[[dict[str, float]], tuple[int, ...]],
        centre: Callable[[tuple[int, ...]], dict[str, float]],
        untried: Callable[[], tuple[int, ...] | None],
    ) -> Search:
        """``workers`` proposals at a time (constant liar): the first of a batch is the optimizer's
        suggestion; each next one comes from a copy that also believes every proposal already in the
        batch scored as badly as the worst result so far, so a batch spreads over the space."""
        observed: list[tuple[dict[str, float], float]] = []  # what the real optimizer was told
        step = 0

        def register(opt: Any, params: dict[str, float], value: float, real: bool) -> None:
            opt.register(params=params, target=value)
            if real:
                observed.append((params, value))

        while len(known) < grid.size:
            batch: list[tuple[str, tuple[int, ...]]] = []
            while len(batch) < self.workers and len(known) + len(batch) < grid.size:
                n = step + len(batch) + 1
                in_batch = {p for _, p in batch}
                stage, point = "default", grid.default()
                if n > 1 and n <= 1 + self.init_points:
                    stage, point = "random init", _untried_besides(untried, in_batch)
                elif n > 1:
                    opt = self._liar(grid, observed, in_batch, centre, n) if batch else optimizer
                    stage, point = (
                        "suggested",
                        self._suggest(opt, known, in_batch, snap, register, opt is optimizer),
                    )
                    if point is None:
                        stage, point = "random (suggestions repeated)", _untried_besides(untried, in_batch)
                if point is None:
                    break
                batch.append((stage, point))
            if not batch:
                break
            items = []
            for stage, point in batch:
                step += 1
                items.append((f"bayesian {step} {stage} ({grid.fp32_count(point)} fp32)", grid.recipe(point)))
            trials = yield Batch(items)
            for (_, point), trial in zip(batch, trials):
                known[point] = target(trial, self.score(trial))
                register(optimizer, centre(point), known[point], real=True)
        self.stop_reason = (
            f"space exhausted: all {grid.size} recipes tried"
            if len(known) >= grid.size
            else f"no untried recipe found ({len(known)} of {grid.size} tried)"
        )

    def _liar(
        self,
        grid: Grid,
        observed: list[tuple[dict[str, float], float]],
        in_batch: set[tuple[int, ...]],
        centre: Callable[[tuple[int, ...]], dict[str, float]],
        n: int,
    ) -> Any:
        """A copy of the optimizer that believes the lie about this batch's proposals: each scored as
        badly as the worst result so far, so the next suggestion goes elsewhere."""
        bayes_opt = self._bayes_opt
        opt = bayes_opt.BayesianOptimization(
            f=None,
            pbounds=_bounds(grid),
            acquisition_function=_sampled_only(bayes_opt.acquisition.UpperConfidenceBound)(kappa=self.kappa),
            random_state=self.seed * 7919 + n,
            verbose=0,
            allow_duplicate_points=True,
        )
        for params, value in observed:
            opt.register(params=params, target=value)
        lie = min((v for _, v in observed), default=-2.0)
        for p in in_batch:
            opt.register(params=centre(p), target=lie)
        return opt

    def _suggest(
        self,
        opt: Any,
        known: dict[tuple[int, ...], float],
        in_batch: set[tuple[int, ...]],
        snap: Callable[[dict[str, float]], tuple[int, ...]],
        register: Callable[[Any, dict[str, float], float, bool], None],
        real: bool,
    ) -> tuple[int, ...] | None:
        """The optimizer's next untried point, telling it known targets of repeats; None after
        ``max_repeats`` suggestions of known points."""
        for _ in range(self.max_repeats):
            params = opt.suggest()
            candidate = snap(params)
            if candidate not in known and candidate not in in_batch:
                return candidate
            if candidate in known:
                register(opt, params, known[candidate], real)
        return None


def _bounds(grid: Grid) -> dict[str, tuple[float, float]]:
    """The box of the continuous relaxation: one interval [0, k) per dimension of k values."""
    return {d.name: (0.0, float(len(d.values))) for d in grid.dims}


def _untried_besides(
    untried: Callable[[], tuple[int, ...] | None], taken: set[tuple[int, ...]]
) -> tuple[int, ...] | None:
    for _ in range(100):
        point = untried()
        if point is None or point not in taken:
            return point
    return None


def _sampled_only(acquisition: type) -> type:
    """``acquisition`` without its gradient stage (``n_smart`` in 3.x, ``n_l_bfgs_b`` in 2.x)."""
    params = inspect.signature(acquisition.suggest).parameters
    knob = next((k for k in ("n_smart", "n_l_bfgs_b") if k in params), None)

    class Sampled(acquisition):  # type: ignore[misc, valid-type]
        def suggest(self, *args: Any, **kwargs: Any) -> Any:
            if knob is not None:
                kwargs[knob] = 0
            return super().suggest(*args, **kwargs)

    return Sampled
