"""User metrics: a class or a plain function, usable wherever a metric name is.

``register("my_metric", fn)`` makes ``metric: my_metric`` in a config (YAML or dict) resolve to it,
before the ``lpot.metrics`` entry points are consulted; ``metric: {"my_pkg.metrics:MyMetric": {}}``
imports it by path without registering. A class is instantiated with the config's parameters and
must have ``update``/``result``/``reset``; a plain function ``fn(preds, labels) -> float`` is
called once on everything gathered over the batches, so it may compute anything (a median, an
AUC) exactly as it would on the whole set in memory.

A config names code to run, so an import path is taken only for what is declared a metric: a
class or object with ``update``/``result``/``reset``, or a Python function whose first two
parameters are named ``preds`` and ``labels`` (and takes no other required one). Anything else
(``os:system``, ``shutil:rmtree``, a builtin) is refused before it is ever called.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from lpot.errors import ConfigError, PluginError
from lpot.metric import Metric

_REGISTERED: dict[str, Any] = {}
METHODS = ("update", "result", "reset")


class CallableMetric:
    """A streaming metric around ``fn(preds, labels) -> float`` over all batches at once.

    Predictions and labels are concatenated along the first axis when they are arrays, else
    gathered into lists.
    """

    def __init__(self, fn: Callable[[Any, Any], Any], higher_is_better: bool = True) -> None:
        self.fn = fn
        self.higher_is_better = higher_is_better
        self.name = getattr(fn, "__name__", type(fn).__name__)
        self.reset()

    def reset(self) -> None:
        self.preds: list[Any] = []
        self.labels: list[Any] = []

    def update(self, preds: Any, labels: Any) -> None:
        self.preds.append(preds)
        self.labels.append(labels)

    def result(self) -> float:
        if not self.preds:
            return float("nan")
        return self.fn(_gather(self.preds), _gather(self.labels))


def _gather(batches: list[Any]) -> Any:
    if all(b is None for b in batches):
        return None
    if all(isinstance(b, np.ndarray) for b in batches):
        return np.concatenate([b.reshape(1) if b.ndim == 0 else b for b in batches])
    try:
        arrays = [np.asarray(b) for b in batches]
        if all(a.dtype != object and a.ndim > 0 for a in arrays):
            return np.concatenate(arrays)
    except Exception:  # ragged or framework objects: keep them as a list
        pass
    return [item for b in batches for item in (b if isinstance(b, (list, tuple)) else [b])]


def as_metric(
    obj: Any, params: dict[str, Any] | None = None, *, higher_is_better: bool | None = None
) -> Metric:
    """A metric from an instance, a class (built with ``params``) or a function ``fn(preds, labels)``.

    ``higher_is_better`` overrides the object's own attribute; without either, higher is better.
    """
    params = dict(params or {})
    name = getattr(obj, "__name__", type(obj).__name__)
    if inspect.isclass(obj):
        missing = [m for m in METHODS if not callable(getattr(obj, m, None))]
        if missing:
            raise PluginError(
                f"metric class {name} lacks {', '.join(missing)}: a metric needs update, result and reset"
            )
        try:
            metric = obj(**params)
        except TypeError as exc:
            raise PluginError(f"metric {name} does not accept parameters {params!r}: {exc}") from exc
    elif all(callable(getattr(obj, m, None)) for m in METHODS):
        if params:
            raise ConfigError(f"metric {name} is an instance; it takes no parameters, got {params!r}")
        metric = obj
    elif callable(obj):
        hib = params.pop("higher_is_better", getattr(obj, "higher_is_better", True))
        if params:
            raise ConfigError(f"a function metric takes only higher_is_better, got {params!r}")
        metric = CallableMetric(obj, higher_is_better=bool(hib))
    else:
        raise PluginError(
            f"metric {obj!r} is neither a metric (update/result/reset) nor a function fn(preds, labels) -> float"
        )
    if higher_is_better is not None:
        metric.higher_is_better = higher_is_better
    elif not isinstance(getattr(metric, "higher_is_better", None), bool):
        metric.higher_is_better = True
    return metric


def register(name: str, metric: Any, *, higher_is_better: bool | None = None) -> None:
    """Make ``name`` (case-insensitive) resolve to ``metric``: a class, an instance or a function."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a metric name must be a non-empty string, got {name!r}")
    _REGISTERED[name.lower()] = (metric, higher_is_better)


def unregister(name: str) -> None:
    _REGISTERED.pop(name.lower(), None)


def registered(name: str) -> tuple[Any, bool | None] | None:
    return _REGISTERED.get(name.lower())


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def import_path(path: str) -> Any:
    """The metric at ``"package.module:attribute"``: only an object that declares itself a metric
    (see the module docstring); everything else is a :class:`PluginError` naming the path."""
    module, _, attr = path.partition(":")
    if not _DOTTED.fullmatch(module) or not _DOTTED.fullmatch(attr):
        raise PluginError(
            f"metric {path!r} is not an import path: expected 'package.module:Name' (absolute, no dots "
            "before the module)"
        )
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # the module's own import may fail any way
        raise PluginError(f"metric {path!r} could not be imported: {type(exc).__name__}: {exc}") from exc
    problem = _not_a_metric(obj)
    if problem:
        raise PluginError(
            f"metric {path!r} is not a metric ({problem}): an import-path metric is a class or object with "
            "update, result and reset, or a function def name(preds, labels) -> float"
        )
    return obj


def _not_a_metric(obj: Any) -> str | None:
    """Why ``obj`` is not declared a metric, or None when it is."""
    if all(callable(getattr(obj, m, None)) for m in METHODS):
        return None
    if not inspect.isfunction(obj):
        return f"{type(obj).__name__} {getattr(obj, '__name__', '')}".strip()
    params = list(inspect.signature(obj).parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    names = [p.name for p in positional[:2]]
    if names != ["preds", "labels"]:
        return f"function {obj.__name__}({', '.join(p.name for p in params)})"
    required = [
        p for p in params[2:] if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        return f"function {obj.__name__} also requires {required[0].name!r}"
    return None
