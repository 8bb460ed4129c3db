"""What a metric is to lpot: a streaming score over numpy predictions and labels.

A metric streams over batches: ``update(preds, labels)`` per batch (numpy outputs of the model, or of
the postprocess), ``result()`` once at the end, ``reset()`` before each evaluation. The built-in
metrics (``lpot.metrics``) and a user's own class satisfy :class:`Metric`; LPOT 1.x users subclass
:class:`BaseMetric`, which has the same methods (register one with ``component.metric =
lpot.experimental.common.Metric(MyMetric, "my_metric")``; subclassing only documents the intent).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Metric(Protocol):
    """``reset`` before a pass, ``update`` per batch, ``result`` at the end; ``higher_is_better``
    says which way the accuracy criterion reads it."""

    higher_is_better: bool

    def reset(self) -> None: ...
    def update(self, preds: Any, labels: Any) -> None: ...
    def result(self) -> float: ...


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


__all__ = ["BaseMetric", "Metric"]
