"""``common.Metric``: a user metric class registered for one component.

``component.metric = common.Metric(MyMetric, "my_metric", **kwargs)``: the component evaluates with
``MyMetric(**kwargs)`` (a :class:`lpot.metric.BaseMetric` subclass, or anything with ``update``,
``reset`` and ``result``; or a function ``fn(preds, labels) -> float`` over the whole set) in
place of the config's ``evaluation.accuracy.metric``.
"""

from __future__ import annotations

import inspect
from typing import Any

from lpot.errors import ConfigError

METHODS = ("update", "reset", "result")


class Metric:
    def __init__(self, metric_cls: Any, name: str = "user_metric", **kwargs: Any) -> None:
        missing = [m for m in METHODS if not callable(getattr(metric_cls, m, None))]
        if missing and (inspect.isclass(metric_cls) or not callable(metric_cls)):
            raise ConfigError(
                f"common.Metric: {getattr(metric_cls, '__name__', metric_cls)!r} lacks {', '.join(missing)}: "
                "a metric class needs update, reset and result (subclass lpot.metric.BaseMetric), "
                "or pass a function fn(preds, labels) -> float"
            )
        if not isinstance(name, str) or not name:
            raise ConfigError(f"common.Metric: name must be a non-empty string, got {name!r}")
        self.metric_cls, self.name, self.kwargs = metric_cls, name, kwargs

    def __repr__(self) -> str:
        return f"Metric({getattr(self.metric_cls, '__name__', self.metric_cls)!r}, name={self.name!r})"
