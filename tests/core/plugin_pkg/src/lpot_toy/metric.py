"""A third-party metric where lower is better: mean absolute error of the first output."""

from __future__ import annotations

from typing import Any

import numpy as np


class MeanAbsoluteError:
    higher_is_better = False

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, preds: Any, labels: Any) -> None:
        p = np.asarray(preds, dtype=np.float64).reshape(len(labels), -1)
        y = np.asarray(labels, dtype=np.float64).reshape(len(labels), -1)
        self.total += float(np.abs(p - y).sum())
        self.count += p.size

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")
