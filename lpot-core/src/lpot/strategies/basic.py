"""The basic strategy of the original tool: model-wise, then op-wise fallback, then accumulated.

1. Model-wise: the default INT8 recipe, then each model-wise dimension (calibration algorithm,
   schemes, granularity, dtypes, backend options such as the fast-path passes, sampling size)
   changed one at a time; then, where several changes each beat the default, their combination,
   built greedily from the best one (reduce_range with bias correction, SmoothQuant with another
   calibration), so the passes add up before any op leaves INT8 (``lpot.strategies._model_wise``,
   shared with mse and sensitivity).
2. Op-wise fallback: from the most accurate model-wise recipe, each op alone taken out of INT8
   (to BF16 where the backend offers it natively, else FP32); the
   accuracy each single fallback reaches measures how sensitive the model is to that op.
3. Accumulated fallback: ops ordered by that sensitivity are kept in FP32 cumulatively until the
   criterion holds (the loop stops at the first recipe that meets it).
4. Last resort: option values the backend marks as leaving INT8 altogether (a BF16 model family),
   tried before the last accumulated step would take every op out of INT8.

Stages 1 and 2 are batches of independent proposals (run in parallel on a parallel executor);
stage 3 is sequential.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace

from lpot.recipe import OpKey, Recipe
from lpot.strategies._model_wise import model_wise_stage
from lpot.strategies.base import Batch, Search, SearchStrategy, met
from lpot.trial import Trial


class BasicStrategy(SearchStrategy):
    name = "basic"

    def __init__(self, model_wise: bool = True) -> None:
        self.model_wise_stage = model_wise

    def search(self) -> Search:
        base = self.space.default_recipe()
        stage = yield from model_wise_stage(self, base, self.model_wise_stage)
        if stage.met:
            return
        best = stage.best
        ops = best.quantized_ops()
        singles = ((f"fallback {op.name}", self.space.fallback(best, [op])) for op in ops)
        fallbacks: list[Trial] = yield Batch(singles, until=met)  # independent too, up to the first met
        if fallbacks and fallbacks[-1].met:
            return
        sensitivity: dict[OpKey, float] = {op: self.score(t) for op, t in zip(ops, fallbacks)}
        ranked = sorted(sensitivity, key=lambda op: sensitivity[op], reverse=True)
        for n in range(2, len(ranked) + 1):
            if n == len(ranked) and (yield from self._last_resort(base)):
                return  # before giving up INT8 for every op, the backend's other families
            trial = yield (
                f"accumulated fallback {n}/{len(ranked)} ({ranked[n - 1].name})",
                self.space.fallback(best, ranked[:n]),
            )
            if trial.met:
                return
        if len(ranked) < 2:
            yield from self._last_resort(base)

    def _last_resort(self, base: Recipe) -> Generator[tuple[str, Recipe], Trial, bool]:
        """Option values that leave INT8 altogether (e.g. a BF16 family); True when one met the goal."""
        for key, values in self.space.last_resort.items():
            for value in values:
                label = f"last resort {key}={value}"
                trial = yield label, replace(base, options={**base.options, key: value})
                if trial.met:
                    return True
        return False
