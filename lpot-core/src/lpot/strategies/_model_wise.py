"""The model-wise stage shared by basic, mse and sensitivity: settings that apply to every op.

Model-wise settings (calibration algorithm, schemes, granularity, backend options such as
``reduce_range`` or bias correction, sampling size) can rescue a model without taking any op out of
INT8, so they are tried before op-wise fallback, which costs speed: the default INT8 recipe and
each setting changed alone (one batch, independent proposals), then, where two or more changes each
beat the default, their combination, built greedily: the best one, then each other one added where
it improves on the recipe so far. On EfficientNet-Lite0 these settings (reduce_range, bias
correction) are what make INT8 usable at all; a strategy that skipped the stage ranked and fell
back ops of a recipe that could not work.

A search runs it with ``stage = yield from model_wise_stage(self, base)`` and continues op-wise
from ``stage.best``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, replace
from typing import Any

from lpot.recipe import INT_DTYPES, Recipe
from lpot.space import DIMENSIONS, TuningSpace
from lpot.strategies.base import Batch, SearchStrategy
from lpot.trial import Trial

TENSOR_OPTIONS = {f"{tensor}.{attr}" for tensor, attr in DIMENSIONS}
# one model-wise change: (dimension, label, the change applied to a recipe)
Change = tuple[str, str, Callable[[Recipe], Recipe]]


@dataclass(frozen=True)
class ModelWiseOutcome:
    """The stage's trials, whether one met the goal, and the most accurate recipe among them."""

    tried: list[Trial]
    best: Recipe
    met: bool


def model_wise_stage(
    strategy: SearchStrategy, base: Recipe, enabled: bool = True
) -> Generator[Any, Any, ModelWiseOutcome]:
    """Default, each change alone, then the combination; ``enabled=False``: the default only."""
    changes = list(model_wise_changes(strategy.space)) if enabled else []
    alone = [apply(base) for _, _, apply in changes]
    stage = [("model-wise default", base), *((label, r) for (_, label, _), r in zip(changes, alone))]
    tried: list[Trial] = yield Batch(_unique(iter(stage)))  # independent: in parallel when parallel
    if not tried:
        return ModelWiseOutcome(tried, base, False)
    if not any(t.met for t in tried):
        tried = [*tried, *(yield from _combinations(strategy, base, changes, alone, tried))]
    best = max(tried, key=strategy.score).recipe
    return ModelWiseOutcome(tried, best, any(t.met for t in tried))


def model_wise_changes(space: TuningSpace) -> Iterator[Change]:
    """Each dimension changed alone: tensor settings in DIMENSIONS order, whether the backend takes
    them per op or as a model-wise option (``activation.algorithm``), then its other options, then
    the sampling sizes."""
    for tensor, attr in DIMENSIONS:
        for value in space.values(tensor, attr)[1:]:
            if attr == "dtype" and tensor == "activation" and value not in INT_DTYPES:
                continue  # leaving INT8 is what op-wise fallback does, op by op
            yield (
                f"{tensor}.{attr}",
                f"model-wise {tensor} {attr}={value}",
                lambda r, t=tensor, a=attr, v=value: space.model_wise(r, t, a, v),
            )
        yield from _option_values(space, f"{tensor}.{attr}")
    for key in space.options:
        if key not in TENSOR_OPTIONS:
            yield from _option_values(space, key)
    for size in space.sampling_sizes[1:]:
        yield (
            "sampling_size",
            f"model-wise sampling_size={size}",
            lambda r, n=size: replace(r, calib_sampling_size=n),
        )


def _option_values(space: TuningSpace, key: str) -> Iterator[Change]:
    for value in space.options.get(key, ())[1:]:
        if value in space.last_resort.get(key, ()):
            continue  # tried after op-wise fallback, if at all
        yield (
            key,
            f"model-wise {key}={value}",
            lambda r, v=value: replace(r, options={**r.options, key: v}),
        )


def _combinations(
    strategy: SearchStrategy, base: Recipe, changes: list[Change], alone: list[Recipe], tried: list[Trial]
) -> Generator[tuple[str, Recipe], Trial, list[Trial]]:
    """The changes that each beat the default (per dimension its best value), added one at a time,
    best first, to the most accurate of them; each is kept only where it improves on the recipe so
    far. All of them at once can be worse than the best alone (EfficientNet-Lite0 on ORT: five
    changes together 0.839, bias correction alone 0.893)."""
    scores = {t.recipe.fingerprint(): strategy.score(t) for t in tried}
    floor = scores.get(base.fingerprint(), float("-inf"))
    best: dict[str, tuple[float, str, Callable[[Recipe], Recipe]]] = {}
    for (dimension, label, apply), single in zip(changes, alone):
        score = scores.get(single.fingerprint(), float("-inf"))
        if score > floor and score > best.get(dimension, (float("-inf"),))[0]:
            best[dimension] = (score, label.removeprefix("model-wise "), apply)
    ranked = sorted(best.values(), key=lambda item: -item[0])  # stable: ties in dimension order
    if len(ranked) < 2:
        return []
    current_score, first, apply_first = ranked[0]
    current, kept, made = apply_first(base), [first], []
    for _, label, apply in ranked[1:]:
        candidate = apply(current)
        if candidate.fingerprint() in scores:
            continue
        trial = yield "model-wise combined " + ", ".join([*kept, label]), candidate
        made.append(trial)
        score = scores[candidate.fingerprint()] = strategy.score(trial)
        if trial.met:
            break
        if score > current_score:
            current, current_score, kept = candidate, score, [*kept, label]
    return made


def _unique(items: Iterator[tuple[str, Recipe]]) -> Iterator[tuple[str, Recipe]]:
    seen: set[str] = set()
    for label, recipe in items:
        if recipe.fingerprint() not in seen:
            seen.add(recipe.fingerprint())
            yield label, recipe
