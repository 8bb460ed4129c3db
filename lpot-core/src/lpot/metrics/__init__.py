"""Built-in metrics in numpy; more come through the ``lpot.metrics`` entry-point group."""

from __future__ import annotations

from typing import Any

from lpot.backend import Metric


def create_metric(name: str, params: dict[str, Any] | None = None) -> Metric:
    """The metric registered as ``name`` (case-insensitive), built with ``params``."""
    from lpot import plugins

    return plugins.create("lpot.metrics", name.lower(), **(params or {}))


__all__ = ["Metric", "create_metric"]
