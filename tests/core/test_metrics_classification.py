"""Precision, recall and F1 of class predictions, against hand-computed values and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from lpot.errors import ConfigError
from lpot.metrics import create_metric

AVERAGES = ["macro", "micro", "weighted", "binary"]


def _stream(name, preds, labels, batch=7, **params):
    metric = create_metric(name, params)
    for i in range(0, len(labels), batch):
        metric.update(preds[i : i + batch], labels[i : i + batch])
    return metric


def test_hand_computed_binary_and_macro():
    # tp(1)=1, predicted(1)=2, actual(1)=1; tp(0)=2, predicted(0)=2, actual(0)=3
    preds, labels = np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0])
    assert _stream("precision", preds, labels, average="binary").result() == pytest.approx(0.5)
    assert _stream("recall", preds, labels, average="binary").result() == pytest.approx(1.0)
    assert _stream("precision", preds, labels).result() == pytest.approx((0.5 + 1.0) / 2)
    assert _stream("recall", preds, labels).result() == pytest.approx((1.0 + 2 / 3) / 2)
    assert _stream("recall", preds, labels, average="weighted").result() == pytest.approx(
        (1 * 1.0 + 3 * 2 / 3) / 4
    )
    assert _stream("f1", preds, labels, average="micro").result() == pytest.approx(0.75)


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize("name", ["precision", "recall", "f1"])
def test_matches_scikit_learn_over_streamed_batches(name, average):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    classes = 2 if average == "binary" else 5
    labels = rng.integers(0, classes, size=103)
    logits = rng.normal(size=(103, classes)) + 1.5 * np.eye(classes)[labels]
    logits[:, -1] -= 3  # the last class is rarely predicted: zero-division cases occur
    expected = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}[name](
        labels, logits.argmax(1), average=average, zero_division=0
    )
    assert _stream(name, logits, labels, average=average).result() == pytest.approx(expected)


def test_one_hot_labels_and_pos_label():
    sk = pytest.importorskip("sklearn.metrics")
    preds, labels = np.array([0, 2, 2, 1, 0]), np.array([0, 2, 1, 1, 2])
    metric = create_metric("precision", {"average": "binary", "pos_label": 2})
    metric.update(preds, np.eye(3)[labels])
    assert metric.result() == pytest.approx(sk.precision_score(labels, preds, average=None)[2])


def test_reset_empty_and_bad_parameters():
    metric = create_metric("recall")
    metric.update(np.array([1, 0]), np.array([1, 1]))
    metric.reset()
    assert np.isnan(metric.result())
    assert metric.higher_is_better
    with pytest.raises(ConfigError, match="average must be one of"):
        create_metric("precision", {"average": "samples"})
    with pytest.raises(ConfigError, match="pos_label must be an integer"):
        create_metric("f1", {"pos_label": "yes"})
