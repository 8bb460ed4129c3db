"""MAE, MSE and RMSE: hand-computed, streamed, and against scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lpot.errors import DataError
from lpot.metrics import create_metric


def test_hand_computed():
    preds, labels = (
        np.array([[1.0, 2.0], [3.0, 5.0]]),
        np.array([[1.0, 4.0], [2.0, 5.0]]),
    )  # errors 0, -2, 1, 0
    values = {}
    for name in ("mae", "MSE", "rmse"):
        metric = create_metric(name)
        metric.update(preds, labels)
        values[name] = metric.result()
        assert metric.higher_is_better is False
    assert values == pytest.approx({"mae": 3 / 4, "MSE": 5 / 4, "rmse": math.sqrt(5 / 4)})


@pytest.mark.parametrize("name", ["mae", "mse", "rmse"])
def test_streamed_equals_scikit_learn_on_all_data(name):
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    labels = rng.normal(size=(50, 3))
    preds = labels + rng.normal(scale=0.3, size=(50, 3))
    metric = create_metric(name)
    for i in range(0, 50, 8):  # uneven batches: RMSE is the root of the overall mean, not a mean of roots
        metric.update(preds[i : i + 8], labels[i : i + 8])
    mse = sk.mean_squared_error(labels, preds)
    expected = {"mae": sk.mean_absolute_error(labels, preds), "mse": mse, "rmse": math.sqrt(mse)}[name]
    assert metric.result() == pytest.approx(expected)


def test_shape_mismatch_and_missing_labels():
    metric = create_metric("mse")
    with pytest.raises(DataError, match="element by element"):
        metric.update(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(DataError, match="needs labels"):
        metric.update(np.zeros(2), None)
    assert np.isnan(metric.result())
