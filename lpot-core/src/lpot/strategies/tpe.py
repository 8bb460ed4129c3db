"""Tree-structured Parzen estimator search with optuna's ``TPESampler`` (``pip install lpot-core[tpe]``).

Each dimension of the space (an op's choices: its quantized configs then FP32; a backend option; the
sampling size) is a categorical parameter; optuna's ask/tell interface proposes a point, the loop
evaluates the recipe and the strategy tells optuna the target of :func:`target` (meeting the
criterion first, then the share of ops in INT8, else the accuracy). The default recipe is enqueued
first. A proposal that repeats a tried recipe is told its known target and optuna asked again;
after ``max_repeats`` repeats in a row the search ends. The sampler is seeded by ``random_seed``.

On a parallel executor (``workers`` > 1) it proposes ``workers`` recipes at a time with optuna's
constant liar (a proposal in flight counts as a bad result), told together when all finish.
"""

from __future__ import annotations

import logging
from typing import Any

from lpot.strategies._space import Grid, require, target
from lpot.strategies.base import Batch, Search, SearchStrategy


class TpeStrategy(SearchStrategy):
    name = "tpe"
    requires = {"optuna": "lpot-core[tpe]"}

    def __init__(self, n_startup_trials: int = 5, max_repeats: int = 50, multivariate: bool = False) -> None:
        self._optuna = require("optuna", "tpe", self.name)
        self.n_startup_trials = n_startup_trials
        self.max_repeats = max_repeats
        self.multivariate = multivariate

    def search(self) -> Search:
        optuna = self._optuna
        logging.getLogger("optuna").setLevel(logging.WARNING)
        grid = Grid(self.space)
        distributions = {
            d.name: optuna.distributions.CategoricalDistribution(list(range(len(d.values))))
            for d in grid.dims
        }
        sampler = optuna.samplers.TPESampler(
            seed=self.seed, n_startup_trials=self.n_startup_trials, multivariate=self.multivariate
        )
        if self.workers > 1:
            yield from self._batches(optuna, grid, distributions)
            return
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.enqueue_trial({d.name: 0 for d in grid.dims})
        known: dict[tuple[int, ...], float] = {}
        step = 0
        while len(known) < grid.size:
            for _ in range(self.max_repeats):
                asked = study.ask(distributions)
                point = tuple(int(asked.params[d.name]) for d in grid.dims)
                if point not in known:
                    break
                study.tell(asked, known[point])
            else:
                self.stop_reason = (
                    f"TPE proposed only tried recipes {self.max_repeats} times in a row "
                    f"({len(known)} of {grid.size} tried)"
                )
                return
            step += 1
            trial = yield f"tpe {step} ({grid.fp32_count(point)} fp32)", grid.recipe(point)
            known[point] = target(trial, self.score(trial))
            study.tell(asked, known[point])
        self.stop_reason = f"space exhausted: all {grid.size} recipes tried"

    def _batches(self, optuna: Any, grid: Grid, distributions: dict[str, Any]) -> Search:
        """``workers`` proposals at a time, with optuna's constant liar: a trial asked and not yet
        told counts as a bad result, so the proposals of one batch spread out."""
        sampler = optuna.samplers.TPESampler(
            seed=self.seed,
            n_startup_trials=self.n_startup_trials,
            multivariate=self.multivariate,
            constant_liar=True,
        )
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.enqueue_trial({d.name: 0 for d in grid.dims})
        known: dict[tuple[int, ...], float] = {}
        step = 0
        while len(known) < grid.size:
            batch: list[tuple[Any, tuple[int, ...]]] = []
            while len(batch) < self.workers and len(known) + len(batch) < grid.size:
                for _ in range(self.max_repeats):
                    asked = study.ask(distributions)
                    point = tuple(int(asked.params[d.name]) for d in grid.dims)
                    if point in known:
                        study.tell(asked, known[point])
                    elif any(point == p for _, p in batch):
                        study.tell(asked, state=optuna.trial.TrialState.FAIL)  # already in this batch
                    else:
                        batch.append((asked, point))
                        break
                else:
                    break
            if not batch:
                self.stop_reason = (
                    f"TPE proposed only tried recipes {self.max_repeats} times in a row "
                    f"({len(known)} of {grid.size} tried)"
                )
                return
            items = []
            for _, point in batch:
                step += 1
                items.append((f"tpe {step} ({grid.fp32_count(point)} fp32)", grid.recipe(point)))
            trials = yield Batch(items)
            for (asked, point), trial in zip(batch, trials):
                known[point] = target(trial, self.score(trial))
                study.tell(asked, known[point])
        self.stop_reason = f"space exhausted: all {grid.size} recipes tried"
