"""What a metric is to lpot: a streaming score over numpy predictions and labels.

The built-in metrics (``lpot.metrics``) and a user's own class satisfy :class:`Metric`; LPOT 1.x
users subclass :class:`BaseMetric`, which has the same three methods.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Metric(Protocol):
    """``reset`` before a pass, ``update`` per batch, ``result`` at the end; ``higher_is_better``
    says which way the accuracy criterion reads it."""

    higher_is_better: bool

    def reset(self) -> None: ...
    def update(self, preds: Any, labels: Any) -> None: ...
    def result(self) -> float: ...
