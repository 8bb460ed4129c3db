"""Precision and recall of class predictions, binary or averaged over classes (as scikit-learn).

Counts per class (true positives, predicted, actual) are all that is kept between batches, so the
metrics stream over any amount of data; :class:`lpot.metrics.f1.F1` shares the same counts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from lpot.errors import ConfigError
from lpot.metrics._arrays import class_predictions, label_ids, to_numpy

AVERAGES = ("macro", "micro", "weighted", "binary")


class ClassCounts:
    """Per-class true positives, predictions and labels, accumulated over batches."""

    def __init__(self, name: str, average: str, pos_label: int) -> None:
        if average not in AVERAGES:
            raise ConfigError(f"metric {name}: average must be one of {', '.join(AVERAGES)}, got {average!r}")
        if not isinstance(pos_label, int) or isinstance(pos_label, bool):
            raise ConfigError(f"metric {name}: pos_label must be an integer class id, got {pos_label!r}")
        self.average, self.pos_label = average, pos_label
        self.reset()

    def reset(self) -> None:
        self.tp: Counter[int] = Counter()
        self.predicted: Counter[int] = Counter()
        self.actual: Counter[int] = Counter()

    def update(self, preds: Any, labels: Any) -> None:
        pred = class_predictions(to_numpy(preds, "predictions"))
        truth = label_ids(to_numpy(labels, "labels"), pred.shape[0])
        self.tp.update(pred[pred == truth].tolist())
        self.predicted.update(pred.tolist())
        self.actual.update(truth.tolist())

    def score(self, per_class: Any) -> float:
        """``per_class(tp, predicted, actual) -> float`` combined as ``average`` says."""
        if not self.actual and not self.predicted:
            return float("nan")
        if self.average == "binary":
            c = self.pos_label
            return per_class(self.tp[c], self.predicted[c], self.actual[c])
        if self.average == "micro":
            return per_class(sum(self.tp.values()), sum(self.predicted.values()), sum(self.actual.values()))
        classes = sorted(set(self.predicted) | set(self.actual))
        scores = np.array([per_class(self.tp[c], self.predicted[c], self.actual[c]) for c in classes])
        if self.average == "weighted":
            support = np.array([self.actual[c] for c in classes], dtype=np.float64)
            return float((scores * support).sum() / support.sum()) if support.sum() else 0.0
        return float(scores.mean())


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0  # scikit-learn's zero_division=0


class _CountingMetric:
    higher_is_better = True
    name = ""

    def __init__(self, average: str = "macro", pos_label: int = 1) -> None:
        self.counts = ClassCounts(self.name, average, pos_label)

    @property
    def average(self) -> str:
        return self.counts.average

    def reset(self) -> None:
        self.counts.reset()

    def update(self, preds: Any, labels: Any) -> None:
        self.counts.update(preds, labels)


class Precision(_CountingMetric):
    """Share of predictions of a class that are right. ``average``: macro (default, unweighted mean
    over the classes seen in predictions or labels), micro, weighted (by support) or binary
    (class ``pos_label`` only)."""

    name = "precision"

    def result(self) -> float:
        return self.counts.score(lambda tp, predicted, actual: _ratio(tp, predicted))


class Recall(_CountingMetric):
    """Share of the samples of a class that are found; ``average`` as for :class:`Precision`."""

    name = "recall"

    def result(self) -> float:
        return self.counts.score(lambda tp, predicted, actual: _ratio(tp, actual))


def f1_from_counts(tp: float, predicted: float, actual: float) -> float:
    return _ratio(2 * tp, predicted + actual)
