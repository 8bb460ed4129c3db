"""User metrics: a class or a plain function, by registration or by import path."""

from __future__ import annotations

import numpy as np
import pytest

import lpot
import toy_job
from lpot.errors import PluginError
from lpot.metrics import as_metric, create_metric, register, unregister


def median_abs_error(preds, labels):
    return float(np.median(np.abs(preds.reshape(len(labels), -1)[:, 0] - labels)))


median_abs_error.higher_is_better = False


class Hits:
    """A class metric with a parameter: share of first outputs above ``threshold``."""

    higher_is_better = True

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold
        self.reset()

    def reset(self):
        self.hits, self.n = 0, 0

    def update(self, preds, labels):
        self.hits += int((np.asarray(preds)[:, 0] > self.threshold).sum())
        self.n += len(preds)

    def result(self):
        return self.hits / self.n


def test_a_function_sees_all_batches_at_once():
    metric = as_metric(median_abs_error)
    assert metric.higher_is_better is False
    metric.update(np.array([[1.0], [2.0]]), np.array([1.0, 5.0]))
    metric.update(np.array([[10.0]]), np.array([0.0]))
    assert metric.result() == 3.0  # median of 0, 3, 10: not a mean of per-batch medians
    metric.reset()
    assert np.isnan(metric.result())


def test_register_a_class_and_a_function_by_name():
    register("Hits", Hits)
    register("median_ae", median_abs_error)
    try:
        hits = create_metric("hits", {"threshold": 0.5})
        hits.update(np.array([[0.1], [0.9]]), None)
        assert hits.result() == 0.5
        assert create_metric("MEDIAN_AE").higher_is_better is False
    finally:
        unregister("hits")
        unregister("median_ae")


def test_import_path_and_errors():
    metric = create_metric("test_metrics_user:Hits", {"threshold": 1.0})
    assert isinstance(metric, Hits) and metric.threshold == 1.0
    with pytest.raises(PluginError, match="could not be imported"):
        create_metric("test_metrics_user:Nope")
    with pytest.raises(PluginError, match="does not accept parameters"):
        create_metric("test_metrics_user:Hits", {"k": 1})
    with pytest.raises(PluginError, match="neither a metric"):
        as_metric(42)


def test_a_registered_function_metric_drives_tuning(tmp_path, toy_model, toy_loaders):
    calib, evals = toy_loaders

    def share_right(preds, labels):
        return float((preds.argmax(1) == labels).mean())

    register("share_right", share_right)
    try:
        config = toy_job.config(tmp_path)
        config["evaluation"] = {"accuracy": {"metric": {"share_right": {}}}}
        result = lpot.tune(
            toy_model, q_dataloader=calib, eval_dataloader=evals, config=config, progress=False
        )
    finally:
        unregister("share_right")
    assert result.status == "met"
    assert result.baseline_accuracy > 0.9
