"""The basic strategy of the original tool: model-wise, then op-wise fallback, then accumulated.

1. Model-wise: the default INT8 recipe, then each model-wise dimension (calibration algorithm,
   schemes, granularity, dtypes, backend options such as the fast-path passes, sampling size)
   changed one at a time; then, where several changes each beat the default, all of them at once
   (each dimension at its best value: reduce_range with bias correction, SmoothQuant with another
   calibration), so the passes add up before any op leaves INT8.
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

from collections.abc import Callable, Generator, Iterator
from dataclasses import replace

from lpot.recipe import INT_DTYPES, OpKey, Recipe
from lpot.space import DIMENSIONS
from lpot.strategies.base import Batch, Search, SearchStrategy, met
from lpot.trial import Trial

TENSOR_OPTIONS = {f"{tensor}.{attr}" for tensor, attr in DIMENSIONS}
# one model-wise change: (dimension, label, the change applied to a recipe)
Change = tuple[str, str, Callable[[Recipe], Recipe]]


class BasicStrategy(SearchStrategy):
    name = "basic"

    def __init__(self, model_wise: bool = True) -> None:
        self.model_wise_stage = model_wise

    def search(self) -> Search:
        base = self.space.default_recipe()
        changes = list(self._model_wise_changes()) if self.model_wise_stage else []
        alone = [apply(base) for _, _, apply in changes]  # each change on its own
        stage = [("model-wise default", base), *((label, r) for (_, label, _), r in zip(changes, alone))]
        tried: list[Trial] = yield Batch(_unique(iter(stage)))  # independent: in parallel when parallel
        if any(t.met for t in tried) or not tried:
            return
        combined = self._combined(base, changes, alone, tried)
        if combined is not None:
            trial = yield combined
            if trial.met:
                return
            tried = [*tried, trial]
        best = max(tried, key=self.score).recipe
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

    def _model_wise_changes(self) -> Iterator[Change]:
        """Each dimension changed alone: tensor settings in DIMENSIONS order, whether the backend
        takes them per op or as a model-wise option (``activation.algorithm``), then its other
        options, then the sampling sizes."""
        space = self.space
        for tensor, attr in DIMENSIONS:
            for value in space.values(tensor, attr)[1:]:
                if attr == "dtype" and tensor == "activation" and value not in INT_DTYPES:
                    continue  # leaving INT8 is what op-wise fallback does, op by op
                yield (
                    f"{tensor}.{attr}",
                    f"model-wise {tensor} {attr}={value}",
                    lambda r, t=tensor, a=attr, v=value: space.model_wise(r, t, a, v),
                )
            yield from self._option_values(f"{tensor}.{attr}")
        for key in space.options:
            if key not in TENSOR_OPTIONS:
                yield from self._option_values(key)
        for size in space.sampling_sizes[1:]:
            yield (
                "sampling_size",
                f"model-wise sampling_size={size}",
                lambda r, n=size: replace(r, calib_sampling_size=n),
            )

    def _option_values(self, key: str) -> Iterator[Change]:
        for value in self.space.options.get(key, ())[1:]:
            if value in self.space.last_resort.get(key, ()):
                continue  # tried after op-wise fallback, if at all
            yield (
                key,
                f"model-wise {key}={value}",
                lambda r, v=value: replace(r, options={**r.options, key: v}),
            )

    def _combined(
        self, base: Recipe, changes: list[Change], alone: list[Recipe], tried: list[Trial]
    ) -> tuple[str, Recipe] | None:
        """The changes that each beat the default (``alone[i]``: ``changes[i]`` on its own), all
        applied (per dimension the best one), when there are two or more and the result is a
        recipe not tried yet."""
        scores = {t.recipe.fingerprint(): self.score(t) for t in tried}
        floor = scores.get(base.fingerprint(), float("-inf"))
        best: dict[str, tuple[float, str, Callable[[Recipe], Recipe]]] = {}
        for (dimension, label, apply), single in zip(changes, alone):
            score = scores.get(single.fingerprint(), float("-inf"))
            if score > floor and score > best.get(dimension, (float("-inf"),))[0]:
                best[dimension] = (score, label.removeprefix("model-wise "), apply)
        if len(best) < 2:
            return None
        recipe = base
        for _, _, apply in best.values():
            recipe = apply(recipe)
        if recipe.fingerprint() in scores:
            return None
        return "model-wise combined " + ", ".join(label for _, label, _ in best.values()), recipe


def _unique(items: Iterator[tuple[str, Recipe]]) -> Iterator[tuple[str, Recipe]]:
    seen: set[str] = set()
    for label, recipe in items:
        if recipe.fingerprint() not in seen:
            seen.add(recipe.fingerprint())
            yield label, recipe
