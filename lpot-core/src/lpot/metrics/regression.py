"""Errors of numeric predictions: mean absolute, mean squared and root mean squared error.

Every element of the (first) output is compared with the label element in the same place, so a
model with several outputs per sample is scored over all of them; lower is better.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lpot.errors import DataError
from lpot.metrics._arrays import to_numpy


class _ErrorMetric:
    higher_is_better = False

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, preds: Any, labels: Any) -> None:
        pred = to_numpy(preds, "predictions")
        truth = to_numpy(labels, "labels")
        if truth is None:
            raise DataError("this metric needs labels, but the evaluation dataloader yields None")
        pred, truth = pred.astype(np.float64), truth.astype(np.float64)
        if pred.size != truth.size:
            raise DataError(
                f"metric got predictions of shape {pred.shape} but labels of shape {truth.shape}; "
                "it compares them element by element"
            )
        self.total += float(self.error(pred.reshape(-1) - truth.reshape(-1)).sum())
        self.count += pred.size

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")

    @staticmethod
    def error(diff: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class MAE(_ErrorMetric):
    """Mean absolute error."""

    @staticmethod
    def error(diff: np.ndarray) -> np.ndarray:
        return np.abs(diff)


class MSE(_ErrorMetric):
    """Mean squared error."""

    @staticmethod
    def error(diff: np.ndarray) -> np.ndarray:
        return diff * diff


class RMSE(MSE):
    """Root of the mean squared error over all elements seen (not a mean of per-batch roots)."""

    def result(self) -> float:
        return math.sqrt(super().result())
