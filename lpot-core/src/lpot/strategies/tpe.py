"""Tree-structured Parzen estimator search with optuna's ``TPESampler`` (``pip install lpot-core[tpe]``).

Each dimension of the space (an op's choices: its quantized configs then FP32; a backend option; the
sampling size) is a categorical parameter; optuna's ask/tell interface proposes a point, the loop
evaluates the recipe and the strategy tells optuna the target of :func:`target` (meeting the
criterion first, then the share of ops in INT8, else the accuracy). The default recipe is enqueued
first. A proposal that repeats a tried recipe is told its known target and optuna asked again;
after ``max_repeats`` repeats in a row the search ends. The sampler is seeded by ``random_seed``.
"""

from __future__ import annotations

import logging

from lpot.strategies._space import Grid, require, target
from lpot.strategies.base import Search, SearchStrategy


class TpeStrategy(SearchStrategy):
    name = "tpe"

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
