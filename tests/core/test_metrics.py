from __future__ import annotations

import numpy as np
import pytest

from lpot.errors import ConfigError, DataError
from lpot.metrics import create_metric


def test_topk():
    m = create_metric("topk", {"k": 2})
    m.update(np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05]]), np.array([2, 1]))
    assert m.result() == 1.0
    m1 = create_metric("topk", {"k": 1})
    m1.update(np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05]]), np.array([2, 0]))
    assert m1.result() == 0.5


def test_accuracy_with_one_hot_labels_and_streaming():
    m = create_metric("accuracy")
    m.update(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[1, 0], [1, 0]]))
    m.update(np.array([[0.4, 0.6]]), np.array([1]))
    assert m.result() == pytest.approx(2 / 3)
    m.reset()
    assert np.isnan(m.result())


def test_f1_macro_and_binary():
    preds, labels = np.array([1, 1, 0, 0]), np.array([1, 0, 0, 0])
    binary = create_metric("f1", {"average": "binary"})
    binary.update(preds, labels)
    assert binary.result() == pytest.approx(2 / 3)
    macro = create_metric("F1")
    macro.update(preds, labels)
    assert macro.result() == pytest.approx((2 / 3 + 0.8) / 2)


def test_metric_errors_are_specific():
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        create_metric("topk", {"k": 0})
    m = create_metric("accuracy")
    with pytest.raises(DataError, match="needs labels"):
        m.update(np.array([[0.1, 0.9]]), None)
    with pytest.raises(DataError, match="2 predictions but 3 labels"):
        m.update(np.array([[0.1, 0.9], [0.3, 0.7]]), np.array([1, 1, 0]))
