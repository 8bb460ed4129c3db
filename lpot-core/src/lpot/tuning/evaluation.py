"""One way to score a model, whichever of the two usages the user chose.

(a) a built-in metric named in the config over ``eval_dataloader``; (b) the user's own
``eval_func(model) -> float``. Either way the result must be a finite number; anything else is
reported as an :class:`EvaluationError` naming what went wrong, not a crash deep in the loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lpot.backend import Backend, Metric
from lpot.errors import ConfigError, EvaluationError, LpotError


@dataclass
class Evaluator:
    """Scores native models; ``higher_is_better`` orients the accuracy criterion."""

    backend: Backend
    higher_is_better: bool
    eval_func: Callable[[Any], Any] | None = None
    dataloader: Iterable[Any] | None = None
    metric: Metric | None = None

    @property
    def description(self) -> str:
        if self.eval_func is not None:
            return f"eval_func {getattr(self.eval_func, '__name__', type(self.eval_func).__name__)}"
        return f"metric {type(self.metric).__name__} on eval_dataloader"

    def __call__(self, model: object) -> float:
        if self.eval_func is not None:
            try:
                value = self.eval_func(model)
            except LpotError:
                raise
            except Exception as exc:
                raise EvaluationError(f"eval_func raised {type(exc).__name__}: {exc}") from exc
            source = "eval_func"
        else:
            assert self.dataloader is not None and self.metric is not None
            value = self.backend.evaluate(model, self.dataloader, self.metric)
            source = f"metric {type(self.metric).__name__}"
        return _finite(value, source)


def _finite(value: Any, source: str) -> float:
    if hasattr(value, "item") and not isinstance(value, numbers.Number):
        try:
            value = value.item()  # numpy or framework scalars
        except Exception:
            pass
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise EvaluationError(f"{source} must return a real number, got {type(value).__name__}: {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise EvaluationError(
            f"{source} returned {value}; accuracy must be a finite number (an empty or broken evaluation set?)"
        )
    return value


def make_evaluator(
    backend: Backend,
    *,
    eval_func: Callable[[Any], Any] | None,
    eval_dataloader: Iterable[Any] | None,
    metric_config: Any,
    higher_is_better: bool | None,
    postprocess: Iterable[Any] = (),
) -> Evaluator:
    """Pick usage (b) when an eval_func is given, else usage (a); explain what is missing."""
    if eval_func is not None:
        if not callable(eval_func):
            raise ConfigError(
                f"eval_func must be callable as eval_func(model) -> float, got {type(eval_func).__name__}"
            )
        return Evaluator(
            backend, higher_is_better if higher_is_better is not None else True, eval_func=eval_func
        )
    if eval_dataloader is None or metric_config is None:
        missing = "eval_dataloader" if eval_dataloader is None else "evaluation.accuracy.metric in the config"
        raise ConfigError(
            f"nothing to evaluate with: {missing} is missing. Pass eval_func(model) -> float, or an "
            "eval_dataloader together with evaluation.accuracy.metric (e.g. {topk: 1})"
        )
    from lpot.metrics import create_metric

    metric = create_metric(metric_config.name, dict(metric_config.params))
    direction = metric.higher_is_better if higher_is_better is None else higher_is_better
    if postprocess:
        metric = PostprocessedMetric(metric, list(postprocess))
    return Evaluator(backend, direction, dataloader=eval_dataloader, metric=metric)


class PostprocessedMetric:
    """A metric that first runs the config's postprocess transforms on ``(preds, labels)``."""

    def __init__(self, metric: Metric, transforms: list[Any]) -> None:
        import numpy as np

        self.metric, self.transforms = metric, transforms
        self.higher_is_better = metric.higher_is_better
        self._rng = np.random.default_rng(0)

    def reset(self) -> None:
        self.metric.reset()

    def update(self, preds: Any, labels: Any) -> None:
        for transform in self.transforms:
            preds, labels = transform(preds, labels, self._rng)
        self.metric.update(preds, labels)

    def result(self) -> float:
        return self.metric.result()
