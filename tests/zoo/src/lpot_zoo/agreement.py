"""Metrics against the FP32 model for data without labels: top-1 agreement and embedding cosine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lpot_zoo.batches import Batches, Inputs


def top1(logits: Any) -> np.ndarray:
    """The argmax class of each row."""
    return np.asarray(logits).argmax(axis=-1)


def top1_agreement(logits: Any, reference_labels: Any) -> float:
    """The fraction of rows whose top-1 class is the reference's."""
    return float(np.mean(top1(logits) == np.asarray(reference_labels)))


def mean_cosine(a: Any, b: Any) -> float:
    """Mean cosine similarity of matching rows of ``a`` and ``b`` (embeddings vs FP32's)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    dots = (a * b).sum(axis=-1)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return float(np.mean(dots / np.maximum(norms, 1e-12)))


def top1_labelled(loader: Batches, predict: Callable[[Inputs], Any]) -> Batches:
    """``loader`` with the FP32 model's top-1 classes as labels: a ``topk: 1`` metric over it is
    the top-1 agreement with FP32."""
    return loader.labelled(lambda inputs: top1(predict(inputs)).astype(np.int64))


def reference_labelled(loader: Batches, predict: Callable[[Inputs], Any]) -> Batches:
    """``loader`` with the FP32 model's outputs (e.g. embeddings) as labels, for :func:`mean_cosine`."""
    return loader.labelled(lambda inputs: np.asarray(predict(inputs), dtype=np.float32))


def evaluate(loader: Batches, predict: Callable[[Inputs], Any], metric: Callable[[Any, Any], float]) -> float:
    """``metric(predictions, labels)`` over all batches at once (rows concatenated)."""
    preds, labels = [], []
    for inputs, batch_labels in loader:
        preds.append(np.asarray(predict(inputs)))
        labels.append(np.asarray(batch_labels))
    return metric(np.concatenate(preds), np.concatenate(labels))
