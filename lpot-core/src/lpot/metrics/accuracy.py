"""Accuracy: share of exact matches between predicted class ids and labels."""

from __future__ import annotations

from typing import Any

from lpot.metrics._arrays import class_predictions, label_ids, to_numpy


class Accuracy:
    higher_is_better = True
    sample_range = (0.0, 1.0)  # a share of right samples: staged evaluation may bound it

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, preds: Any, labels: Any) -> None:
        pred = class_predictions(to_numpy(preds, "predictions"))
        truth = label_ids(to_numpy(labels, "labels"), pred.shape[0])
        self.correct += int((pred == truth).sum())
        self.total += pred.shape[0]

    @property
    def samples(self) -> int:
        return self.total

    def result(self) -> float:
        return self.correct / self.total if self.total else float("nan")
