"""``lpot.metric.BaseMetric``: the base class LPOT 1.x users subclass for their own metric.

A metric streams over batches: ``update(preds, labels)`` per batch (numpy outputs of the model, or
of the postprocess), ``result()`` once at the end, ``reset()`` before each evaluation. Register one
with ``component.metric = lpot.experimental.common.Metric(MyMetric, "my_metric")``; anything with
those three methods works too (``lpot.metrics`` accepts it), subclassing only documents the intent.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class BaseMetric(ABC):
    """Subclass with ``update``, ``reset`` and ``result``; ``higher_is_better`` orients the accuracy
    criterion (override it for an error or a loss). The base keeps no state, so a subclass's
    ``__init__`` need not call it; ``common.Metric(cls, name, **kwargs)`` builds ``cls(**kwargs)``."""

    higher_is_better: bool = True

    @abstractmethod
    def update(self, preds: Any, labels: Any = None, sample_weight: Any = None) -> None:
        """Add one batch."""

    @abstractmethod
    def reset(self) -> None:
        """Forget every batch seen."""

    @abstractmethod
    def result(self) -> Any:
        """The metric over every batch since the last reset (a finite number)."""


__all__ = ["BaseMetric"]
