"""Top-k accuracy: the share of samples whose label is among the k highest scores."""

from __future__ import annotations

from typing import Any

import numpy as np

from lpot.errors import ConfigError, DataError
from lpot.metrics._arrays import label_ids, to_numpy


class TopK:
    higher_is_better = True
    sample_range = (0.0, 1.0)  # a share of right samples: staged evaluation may bound it

    def __init__(self, k: int = 1) -> None:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"metric topk: k must be a positive integer, got {k!r}")
        self.k = k
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, preds: Any, labels: Any) -> None:
        scores = to_numpy(preds, "predictions")
        if scores.ndim < 2:
            raise DataError(
                f"metric topk scores a class-score matrix (samples x classes), but the model output has "
                f"shape {list(scores.shape)}: a label output? Choose the scores output with "
                "model.outputs: [name], or use metric accuracy for predicted labels"
            )
        scores = scores.reshape(-1, scores.shape[-1])
        truth = label_ids(to_numpy(labels, "labels"), scores.shape[0])
        k = min(self.k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        self.correct += int((top == truth[:, None]).any(axis=1).sum())
        self.total += scores.shape[0]

    @property
    def samples(self) -> int:
        return self.total

    def result(self) -> float:
        return self.correct / self.total if self.total else float("nan")
