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
from dataclasses import dataclass, field
from typing import Any

from lpot.backend import Backend, Metric
from lpot.errors import ConfigError, EvaluationError, LpotError


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
    goal: float | None = None


@dataclass
class Evaluator:
    """Scores native models; ``higher_is_better`` orients the accuracy criterion.

    With ``staging`` and ``criterion`` set (usage (a) only), trials are evaluated in stages against
    the goal derived from the FP32 baseline: the baseline is the evaluation of ``reference`` (the
    FP32 model; without one, the first model evaluated, as the tuning loop evaluates FP32 first),
    or ``set_baseline``. ``last`` says how the latest call decided; ``slice_decisions`` counts the
    trials decided on the slice alone.
    """

    backend: Backend
    higher_is_better: bool
    eval_func: Callable[[Any], Any] | None = None
    dataloader: Iterable[Any] | None = None
    metric: Metric | None = None
    criterion: Any = None  # lpot.config.AccuracyCriterion
    staging: Staging | None = None
    reference: Any = None
    baseline: float | None = None
    last: Evaluation | None = field(default=None, repr=False)
    slice_decisions: int = 0

    @property
    def description(self) -> str:
        if self.eval_func is not None:
            return f"eval_func {getattr(self.eval_func, '__name__', type(self.eval_func).__name__)}"
        staged = f", staged (every {self.staging.every}th batch first)" if self.staging else ""
        return f"metric {type(self.metric).__name__} on eval_dataloader{staged}"

    def set_baseline(self, value: float) -> None:
        self.baseline = float(value)

    def __call__(self, model: object) -> float:
        return self.evaluate(model).value

    def evaluate(self, model: object) -> Evaluation:
        """Score ``model``; in stages when staging applies, else on all the data."""
        if self.eval_func is not None:
            try:
                value = self.eval_func(model)
            except LpotError:
                raise
            except Exception as exc:
                raise EvaluationError(f"eval_func raised {type(exc).__name__}: {exc}") from exc
            self.last = Evaluation(_finite(value, "eval_func"))
            return self.last
        assert self.dataloader is not None and self.metric is not None
        source = f"metric {type(self.metric).__name__}"
        goal = self._goal(model)
        if goal is None:
            value = _finite(self.backend.evaluate(model, self.dataloader, self.metric), source)
            if self.baseline is None and self.staging is not None and self.criterion is not None:
                self.baseline = value  # the first model evaluated is FP32 (see the class docstring)
            self.last = Evaluation(value)
        else:
            self.last = self._staged(model, goal, source)
        return self.last

    def _goal(self, model: object) -> float | None:
        """The goal a staged evaluation tests against, or None to evaluate on all the data."""
        if self.staging is None or self.criterion is None:
            return None
        if self.reference is not None and model is self.reference:
            return None
        if self.baseline is None:
            if self.reference is None:
                return None
            from lpot.tuning.runlog import event

            # a resumed run took its baseline from history: evaluate FP32 once more for the goal
            self.baseline = _finite(
                self.backend.evaluate(self.reference, self.dataloader, self.metric), "the FP32 baseline"
            )
            event("staged evaluation baseline", baseline=self.baseline)
        return self.criterion.goal(self.baseline, self.higher_is_better)

    def _staged(self, model: object, goal: float, source: str) -> Evaluation:
        from lpot.tuning.runlog import event

        assert self.staging is not None and self.dataloader is not None and self.metric is not None
        split = _Split(self.dataloader, self.staging.every, int(self.staging.cache_mb * 2**20))
        value = _finite(self.backend.evaluate(model, split.slice(), self.metric), source)
        samples = getattr(_inner(self.metric), "samples", 0)
        low, high = _inner(self.metric).sample_range
        bound = confidence_bound(
            value, samples, 1 - self.staging.confidence, low, high, upper=self.higher_is_better
        )
        slack = 1e-9 * max(1.0, abs(goal))
        fails = bound < goal - slack if self.higher_is_better else bound > goal + slack
        fields = {"slice_value": value, "samples": samples, "bound": bound, "goal": goal}
        if fails:
            self.slice_decisions += 1
            event("staged evaluation", decided_on_slice=True, **fields)
            return Evaluation(value, on_slice=True, samples=samples, bound=bound, goal=goal)
        full = _finite(self.backend.evaluate(model, split.rest(), _Continued(self.metric)), source)
        event("staged evaluation", decided_on_slice=False, value=full, **fields)
        return Evaluation(full, samples=getattr(_inner(self.metric), "samples", None), bound=bound, goal=goal)


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
    backend: Backend,
    *,
    eval_func: Callable[[Any], Any] | None,
    eval_dataloader: Iterable[Any] | None,
    metric_config: Any,
    higher_is_better: bool | None,
    postprocess: Iterable[Any] = (),
    criterion: Any = None,
    staged: bool | Staging | None = None,
    reference: Any = None,
) -> Evaluator:
    """Pick usage (b) when an eval_func is given, else usage (a); explain what is missing.

    ``staged`` (``tuning.staged_evaluation``): None (default) stages usage (a) whenever the metric
    is a mean of bounded per-sample scores (accuracy, topk, exact match, SQuAD F1) and a
    ``criterion`` is given; True requires it (an error says why it cannot apply); False never
    stages. ``reference`` is the FP32 model, whose evaluation is the baseline.
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
    staging = _staging(staged, metric, criterion)
    return Evaluator(
        backend,
        direction,
        dataloader=eval_dataloader,
        metric=metric,
        criterion=criterion if staging else None,
        staging=staging,
        reference=reference,
    )


def _staging(staged: bool | Staging | None, metric: Metric, criterion: Any) -> Staging | None:
    if staged is False:
        return None
    if stageable(metric) and criterion is not None:
        return staged if isinstance(staged, Staging) else Staging()
    if staged is None:
        return None
    name = type(_inner(metric)).__name__
    if criterion is None:
        raise ConfigError("staged evaluation needs the accuracy criterion to know when a slice clearly fails")
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
