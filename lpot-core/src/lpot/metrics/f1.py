"""F1 score: of class predictions (binary or averaged), or SQuAD's token F1 when given text.

LPOT's ``F1`` metric scored question-answering models on answer strings; configs written for it
(``metric: {F1: {}}`` for BERT on SQuAD) keep working because text predictions switch this metric
to :class:`lpot.metrics.squad.SquadF1`.
"""

from __future__ import annotations

from typing import Any

from lpot.metrics.classification import ClassCounts, f1_from_counts
from lpot.metrics.squad import SquadF1, is_text


class F1:
    """Harmonic mean of precision and recall. ``average``: macro (default), micro, weighted or
    binary (class ``pos_label``), as scikit-learn's ``f1_score``. Answer strings are scored with
    SQuAD's token F1 instead (the averaging options do not apply to them)."""

    higher_is_better = True

    def __init__(self, average: str = "macro", pos_label: int = 1) -> None:
        self.counts = ClassCounts("f1", average, pos_label)
        self.squad = SquadF1()
        self.reset()

    @property
    def average(self) -> str:
        return self.counts.average

    @property
    def sample_range(self) -> tuple[float, float] | None:
        """Per-sample scores lie in [0, 1] for token F1 only; class F1 is no mean of samples."""
        return self.squad.sample_range if self.squad.count else None

    def reset(self) -> None:
        self.counts.reset()
        self.squad.reset()

    def update(self, preds: Any, labels: Any) -> None:
        if is_text(preds):
            self.squad.update(preds, labels)
        else:
            self.counts.update(preds, labels)

    def result(self) -> float:
        if self.squad.count:
            return self.squad.result()
        return self.counts.score(f1_from_counts)
