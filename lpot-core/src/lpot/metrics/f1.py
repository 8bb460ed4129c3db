"""F1 score: binary (positive class 1) or macro-averaged over the classes seen."""

from __future__ import annotations

from typing import Any

import numpy as np

from lpot.errors import ConfigError
from lpot.metrics._arrays import class_predictions, label_ids, to_numpy


class F1:
    higher_is_better = True

    def __init__(self, average: str = "macro") -> None:
        if average not in ("macro", "binary", "micro"):
            raise ConfigError(f"metric f1: average must be 'macro', 'micro' or 'binary', got {average!r}")
        self.average = average
        self.reset()

    def reset(self) -> None:
        self.preds: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []

    def update(self, preds: Any, labels: Any) -> None:
        pred = class_predictions(to_numpy(preds, "predictions"))
        self.preds.append(pred)
        self.labels.append(label_ids(to_numpy(labels, "labels"), pred.shape[0]))

    def result(self) -> float:
        if not self.preds:
            return float("nan")
        pred, truth = np.concatenate(self.preds), np.concatenate(self.labels)
        if self.average == "binary":
            return _f1(pred == 1, truth == 1)
        if self.average == "micro":
            return float((pred == truth).mean())
        classes = np.union1d(pred, truth)
        return float(np.mean([_f1(pred == c, truth == c) for c in classes]))


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float(np.sum(pred & truth))
    denom = float(np.sum(pred) + np.sum(truth))
    return 2 * tp / denom if denom else 0.0
