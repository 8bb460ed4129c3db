"""The accuracy goal of a run: built once, after the FP32 baseline is known, and passed everywhere.

Everything that asks "does this trial meet the goal?" or "which of two accuracies is better?" asks a
:class:`Goal`: the loop, the trial runner in a worker, staged evaluation, strategies and reports.
The direction of the metric is decided once, when the goal is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Goal:
    """Accept an accuracy no worse than ``threshold``; ``higher_is_better`` orients the metric.

    A tolerance of 1e-9 of the baseline absorbs float rounding (0.33 - 10% is 0.29700000000000004).
    NaN never meets the goal and ranks below every number.
    """

    baseline: float
    threshold: float
    higher_is_better: bool = True

    @classmethod
    def relative(cls, baseline: float, loss: float, higher_is_better: bool = True) -> Goal:
        """At most ``loss`` (a fraction of ``abs(baseline)``) worse than the baseline."""
        return cls.absolute(baseline, abs(baseline) * loss, higher_is_better)

    @classmethod
    def absolute(cls, baseline: float, loss: float, higher_is_better: bool = True) -> Goal:
        """At most ``loss`` (in the metric's unit) worse than the baseline."""
        threshold = baseline - loss if higher_is_better else baseline + loss
        return cls(float(baseline), float(threshold), higher_is_better)

    def met(self, accuracy: float) -> bool:
        if math.isnan(accuracy):
            return False
        slack = 1e-9 * max(1.0, abs(self.baseline))
        if self.higher_is_better:
            return accuracy >= self.threshold - slack
        return accuracy <= self.threshold + slack

    def oriented(self, accuracy: float) -> float:
        """``accuracy`` with larger always better; NaN is -inf."""
        if math.isnan(accuracy):
            return -math.inf
        return accuracy if self.higher_is_better else -accuracy

    def margin(self, accuracy: float) -> float:
        """How far ``accuracy`` is on the good side of the threshold (negative: it misses)."""
        return self.oriented(accuracy) - self.oriented(self.threshold)

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "baseline": self.baseline,
            "threshold": self.threshold,
            "higher_is_better": self.higher_is_better,
        }
