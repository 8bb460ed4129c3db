"""One way to score a model, whichever of the two usages the user chose.

(a) a built-in metric named in the config over ``eval_dataloader``; (b) the user's own
``eval_func(model) -> float``. Either way the result must be a finite number; anything else is
reported as an :class:`EvaluationError` naming what went wrong, not a crash deep in the loop.

In usage (a) lpot owns the data and the metric, so it may evaluate in stages (:class:`Staging`):
a slice first, and the rest only when the slice does not already show, with high confidence, that
the recipe misses the accuracy goal. Most trials of a fallback search miss it by far.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lpot.errors import ConfigError, EvaluationError, LpotError
from lpot.goal import Goal
from lpot.metric import Metric


@dataclass(frozen=True)
class Staging:
    """Staged evaluation: every ``every``-th batch forms the slice, evaluated first.

    The full evaluation is skipped when the slice's upper confidence bound on the metric (its
    lower bound for lower-is-better metrics) is still worse than the goal. The bound is the
    Chernoff bound for a mean of ``n`` per-sample scores in the metric's ``sample_range`` (the
    binomial tail bound for accuracy-like metrics): the true mean exceeds it with probability at
    most ``1 - confidence``. Its margin is at most Hoeffding's sqrt(ln(1/delta) / 2n): 0.2 for 90
    samples at 0.999.
    The slice takes batches spread over the whole set rather than the first ones, so data sorted
    by class does not bias it. A recipe that is not rejected is evaluated on the rest of the data
    and its value is the full result (the slice is not evaluated twice); so is every accepted recipe.
    Batches outside the slice are kept in memory (up to ``cache_mb``) so the data is read once.
    """

    every: int = 4
    confidence: float = 0.999
    cache_mb: float = 256.0

    def __post_init__(self) -> None:
        if not isinstance(self.every, int) or self.every < 2:
            raise ConfigError(f"staged evaluation: every must be an integer >= 2, got {self.every!r}")
        if not 0.5 <= self.confidence < 1:
            raise ConfigError(f"staged evaluation: confidence must be in [0.5, 1), got {self.confidence!r}")


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation decided: ``on_slice`` when the full data was skipped."""

    value: float
    on_slice: bool = False
    samples: int | None = None  # samples behind ``value`` when staged
    bound: float | None = None  # the slice's confidence bound, when staged
    goal: float | None = None  # the threshold it was staged against

    def details(self) -> dict[str, Any]:
        if self.bound is None:
            return {}
        return {
            "on_slice": self.on_slice,
            "samples": self.samples,
            "slice_bound": self.bound,
            "goal": self.goal,
        }


@dataclass
class Evaluator:
    """Scores native models; ``higher_is_better`` is the direction the run's goal is built with.

    With ``staging`` (usage (a) only) a trial evaluated against a goal is scored in stages: a slice
    first, and the rest only when the slice does not already show it misses the goal. ``output``
    names the model output the metric scores (None: the only one).
    """

    backend: Any
    higher_is_better: bool
    eval_func: Callable[[Any], Any] | None = None
    dataloader: Iterable[Any] | None = None
    metric: Metric | None = None
    staging: Staging | None = None
    output: str | None = None

    @property
    def description(self) -> str:
        if self.eval_func is not None:
            return f"eval_func {getattr(self.eval_func, '__name__', type(self.eval_func).__name__)}"
        staged = f", staged (every {self.staging.every}th batch first)" if self.staging else ""
        return f"metric {type(self.metric).__name__} on eval_dataloader{staged}"

    def __call__(self, model: object) -> float:
        return self.evaluate(model).value

    def evaluate(self, model: object, goal: Goal | None = None) -> Evaluation:
        """Score ``model``; in stages when staging applies and a ``goal`` is given, else on all data."""
        if self.eval_func is not None:
            try:
                value = self.eval_func(model)
            except LpotError:
                raise
            except Exception as exc:
                raise EvaluationError(f"eval_func raised {type(exc).__name__}: {exc}") from exc
            return Evaluation(_finite(value, "eval_func"))
        if self.dataloader is None or self.metric is None:
            raise ConfigError("nothing to evaluate with: no eval_func and no evaluation data with a metric")
        source = f"metric {type(self.metric).__name__}"
        if goal is None or self.staging is None:
            return Evaluation(_finite(self._score(model, self.dataloader, self.metric), source))
        return self._staged(model, goal, source)

    def _score(self, model: object, data: Iterable[Any], metric: Metric) -> float:
        try:
            return self.backend.evaluate(model, data, metric, self.output)
        except LpotError:
            raise
        except Exception as exc:
            raise EvaluationError(f"evaluating the model failed: {type(exc).__name__}: {exc}") from exc

    def _staged(self, model: object, goal: Goal, source: str) -> Evaluation:
        assert self.staging is not None and self.dataloader is not None and self.metric is not None
        split = _Split(self.dataloader, self.staging.every, int(self.staging.cache_mb * 2**20))
        value = _finite(self._score(model, split.slice(), self.metric), source)
        samples = getattr(_inner(self.metric), "samples", 0)
        low, high = _inner(self.metric).sample_range
        bound = confidence_bound(
            value, samples, 1 - self.staging.confidence, low, high, upper=goal.higher_is_better
        )
        if not goal.met(bound):
            return Evaluation(value, on_slice=True, samples=samples, bound=bound, goal=goal.threshold)
        full = _finite(self._score(model, split.rest(), _Continued(self.metric)), source)
        samples = getattr(_inner(self.metric), "samples", None)
        return Evaluation(full, samples=samples, bound=bound, goal=goal.threshold)


def confidence_bound(mean: float, n: int, delta: float, low: float, high: float, *, upper: bool) -> float:
    """Chernoff bound on the mean of ``n`` i.i.d. scores in ``[low, high]`` with observed ``mean``.

    ``upper``: the smallest ``b >= mean`` with ``n * KL(mean || b) >= ln(1/delta)`` (KL of Bernoulli
    variables after scaling to [0, 1]); the true mean exceeds it with probability <= ``delta``.
    Tighter than Hoeffding's ``sqrt(ln(1/delta) / 2n)`` near 0 and 1; the binomial tail for 0/1 scores.
    """
    if n <= 0:
        return high if upper else low
    span = high - low
    p = min(max((mean - low) / span, 0.0), 1.0)
    if not upper:
        p = 1.0 - p
    target = math.log(1 / delta) / n
    lo, hi = p, 1.0
    if _kl(p, hi) <= target:
        q = 1.0
    else:
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _kl(p, mid) <= target else (lo, mid)
        q = hi
    return low + span * (q if upper else 1.0 - q)


def _kl(p: float, q: float) -> float:
    q = min(max(q, 1e-15), 1 - 1e-15)
    out = 0.0
    if p > 0:
        out += p * math.log(p / q)
    if p < 1:
        out += (1 - p) * math.log((1 - p) / (1 - q))
    return out


def stageable(metric: Metric) -> bool:
    """A metric whose result is a mean of per-sample scores in a known range (``sample_range``)."""
    inner = _inner(metric)
    rng = getattr(inner, "sample_range", None)
    return (
        isinstance(rng, tuple)
        and len(rng) == 2
        and float(rng[1]) > float(rng[0])
        and isinstance(getattr(type(inner), "samples", None), property)
    )


def _inner(metric: Any) -> Any:
    return metric.metric if isinstance(metric, PostprocessedMetric) else metric


class _Continued:
    """The metric without ``reset``: the rest of the data adds to what the slice counted."""

    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.higher_is_better = metric.higher_is_better

    def reset(self) -> None:
        pass

    def update(self, preds: Any, labels: Any) -> None:
        self.metric.update(preds, labels)

    def result(self) -> float:
        return self.metric.result()


class _Split:
    """One dataloader as a slice (every ``every``-th batch) and the rest, reading the data once
    when the rest fits in ``cache_bytes``."""

    def __init__(self, loader: Iterable[Any], every: int, cache_bytes: int) -> None:
        self.loader, self.every, self.cache_bytes = loader, every, cache_bytes
        self.cache: list[Any] | None = []

    def slice(self) -> Iterator[Any]:
        return _Once(self._slice())

    def rest(self) -> Iterator[Any]:
        return _Once(self._rest())

    def _slice(self) -> Iterator[Any]:
        size = 0
        for i, batch in enumerate(self.loader):
            if i % self.every == 0:
                yield batch
            elif self.cache is not None:
                size += _nbytes(batch)
                if size <= self.cache_bytes:
                    self.cache.append(batch)
                else:
                    self.cache = None  # too big to keep: the rest is read again

    def _rest(self) -> Iterator[Any]:
        if self.cache is not None:
            yield from self.cache
            return
        for i, batch in enumerate(self.loader):
            if i % self.every:
                yield batch


class _Once:
    """An iterable over one generator (each phase is read exactly once)."""

    def __init__(self, items: Iterator[Any]) -> None:
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return self.items


def _nbytes(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    nbytes = getattr(value, "nbytes", None)
    return int(nbytes) if isinstance(nbytes, int) else 64


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
    backend: Any,
    *,
    eval_func: Callable[[Any], Any] | None,
    eval_dataloader: Iterable[Any] | None,
    metric_config: Any,
    higher_is_better: bool | None,
    postprocess: Iterable[Any] = (),
    staged: bool | Staging | None = None,
    output: str | None = None,
) -> Evaluator:
    """Pick usage (b) when an eval_func is given, else usage (a); explain what is missing.

    ``staged`` (``tuning.staged_evaluation``): None (default) stages usage (a) whenever the metric
    is a mean of bounded per-sample scores (accuracy, topk, exact match, SQuAD F1); True requires it
    (an error says why it cannot apply); False never stages.
    """
    if staged is not None and not isinstance(staged, (bool, Staging)):
        raise ConfigError(f"tuning.staged_evaluation must be true or false, got {staged!r}")
    if eval_func is not None:
        if not callable(eval_func):
            raise ConfigError(
                f"eval_func must be callable as eval_func(model) -> float, got {type(eval_func).__name__}"
            )
        if staged is True or isinstance(staged, Staging):
            raise ConfigError(
                "tuning.staged_evaluation: true needs lpot to own the evaluation (eval_dataloader and "
                "evaluation.accuracy.metric); an eval_func cannot be run on a slice. Remove the key or set false"
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
    from lpot.metrics import as_metric, create_metric

    if hasattr(metric_config, "name") and hasattr(metric_config, "params"):
        metric = create_metric(metric_config.name, dict(metric_config.params))
    else:  # a metric object, class or function passed directly (Python API)
        metric = as_metric(metric_config)
    direction = metric.higher_is_better if higher_is_better is None else higher_is_better
    if postprocess:
        metric = PostprocessedMetric(metric, list(postprocess))
    return Evaluator(
        backend,
        direction,
        dataloader=eval_dataloader,
        metric=metric,
        staging=_staging(staged, metric),
        output=output,
    )


def _staging(staged: bool | Staging | None, metric: Metric) -> Staging | None:
    if staged is False:
        return None
    if stageable(metric):
        return staged if isinstance(staged, Staging) else Staging()
    if staged is None:
        return None
    name = type(_inner(metric)).__name__
    raise ConfigError(
        f"tuning.staged_evaluation: true, but metric {name} is not a mean of per-sample scores in a known "
        "range, so a slice cannot bound it (accuracy, topk, exact_match and squad_f1 can; a user metric "
        "may declare sample_range = (low, high) and a samples property). Remove the key or set false"
    )


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
