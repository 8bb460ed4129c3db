"""Turning what a model returns into numpy arrays the metrics can count on."""

from __future__ import annotations

from typing import Any

import numpy as np

from lpot.errors import DataError


def to_numpy(value: Any, what: str) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        value = value[0]  # multi-output models: metrics score the first output
    try:
        return np.asarray(value)
    except Exception as exc:  # tensors of unknown frameworks
        raise DataError(
            f"metric could not read {what} of type {type(value).__name__} as an array: {exc}"
        ) from exc


def class_predictions(preds: np.ndarray) -> np.ndarray:
    """Class ids from logits/probabilities ``(N, C)`` or from ids already ``(N,)``."""
    if preds.ndim >= 2 and preds.shape[-1] > 1:
        return preds.reshape(-1, preds.shape[-1]).argmax(axis=-1)
    return preds.reshape(-1).astype(np.int64)


def label_ids(labels: np.ndarray, n: int) -> np.ndarray:
    """Integer labels ``(N,)`` from ids or one-hot ``(N, C)``."""
    if labels is None:
        raise DataError("this metric needs labels, but the evaluation dataloader yields None")
    if labels.ndim >= 2 and labels.shape[-1] > 1:
        labels = labels.reshape(-1, labels.shape[-1]).argmax(axis=-1)
    labels = labels.reshape(-1)
    if labels.shape[0] != n:
        raise DataError(f"metric got {n} predictions but {labels.shape[0]} labels in one batch")
    return labels.astype(np.int64)
