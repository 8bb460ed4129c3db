"""The basic strategy of the original tool: model-wise, then op-wise fallback, then accumulated.

1. Model-wise: the default INT8 recipe, then each model-wise dimension (calibration algorithm,
   schemes, granularity, dtypes, backend options, sampling size) changed one at a time.
2. Op-wise fallback: from the most accurate model-wise recipe, each op alone taken out of INT8
   (to BF16 where the backend offers it natively, else FP32); the
   accuracy each single fallback reaches measures how sensitive the model is to that op.
3. Accumulated fallback: ops ordered by that sensitivity are kept in FP32 cumulatively until the
   criterion holds (the loop stops at the first recipe that meets it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from lpot.recipe import INT_DTYPES, OpKey, Recipe
from lpot.strategies.base import Search, SearchStrategy
from lpot.tuning.space import DIMENSIONS
from lpot.tuning.trial import Trial


class BasicStrategy(SearchStrategy):
    name = "basic"

    def __init__(self, model_wise: bool = True) -> None:
        self.model_wise_stage = model_wise

    def search(self) -> Search:
        base = self.space.default_recipe()
        seen: set[str] = set()
        tried: list[Trial] = []
        stage = (
            self._model_wise_candidates(base)
            if self.model_wise_stage
            else iter([("model-wise default", base)])
        )
        for label, recipe in stage:
            if recipe.fingerprint() in seen:
                continue
            seen.add(recipe.fingerprint())
            trial = yield label, recipe
            tried.append(trial)
        if any(t.met for t in tried) or not tried:
            return
        best = max(tried, key=self.score).recipe
        sensitivity: dict[OpKey, float] = {}
        for op in best.quantized_ops():
            trial = yield f"fallback {op.name}", self.space.fallback(best, [op])
            sensitivity[op] = self.score(trial)
            if trial.met:
                return
        ranked = sorted(sensitivity, key=lambda op: sensitivity[op], reverse=True)
        for n in range(2, len(ranked) + 1):
            trial = yield (
                f"accumulated fallback {n}/{len(ranked)} ({ranked[n - 1].name})",
                self.space.fallback(best, ranked[:n]),
            )
            if trial.met:
                return

    def _model_wise_candidates(self, base: Recipe) -> Iterator[tuple[str, Recipe]]:
        yield "model-wise default", base
        for tensor, attr in DIMENSIONS:
            for value in self.space.values(tensor, attr)[1:]:
                if attr == "dtype" and tensor == "activation" and value not in INT_DTYPES:
                    continue  # leaving INT8 is what op-wise fallback does, op by op
                yield f"model-wise {tensor} {attr}={value}", self.space.model_wise(base, tensor, attr, value)
        for key, values in self.space.options.items():
            for value in values[1:]:
                yield f"model-wise {key}={value}", replace(base, options={**base.options, key: value})
        for size in self.space.sampling_sizes[1:]:
            yield f"model-wise sampling_size={size}", replace(base, calib_sampling_size=size)
