"""Built-in metrics in numpy; more come through the ``lpot.metrics`` entry-point group.

A metric accumulates over batches (``update(preds, labels)``, ``result()``, ``reset()``) and says
whether ``higher_is_better``. Besides the entry points, a metric may be a user class or a plain
function: registered by name (:func:`register`) or named by import path (``"pkg.mod:attr"``).
"""

from __future__ import annotations

from typing import Any

from lpot.metric import Metric
from lpot.metrics.user import CallableMetric, as_metric, register, unregister


def create_metric(name: str, params: dict[str, Any] | None = None) -> Metric:
    """The metric registered as ``name`` (case-insensitive), built with ``params``.

    Looked up first among :func:`register`-ed user metrics, then as an import path when ``name``
    holds a ``:``, then among the ``lpot.metrics`` entry points.
    """
    from lpot import plugins
    from lpot.metrics import user

    found = user.registered(name)
    if found is not None:
        return as_metric(found[0], params, higher_is_better=found[1])
    if ":" in name:
        return as_metric(user.import_path(name), params)
    return plugins.create("lpot.metrics", name.lower(), **(params or {}))


__all__ = ["CallableMetric", "Metric", "as_metric", "create_metric", "register", "unregister"]
