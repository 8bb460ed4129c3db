"""Staged evaluation: a slice first, the rest only when the slice does not already rule the recipe out."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from test_strategy_common import _data, config, known_answer_model

import lpot
from lpot.backend import Backend
from lpot.config import AccuracyCriterion
from lpot.data import ArrayLoader
from lpot.errors import ConfigError
from lpot.metrics import create_metric
from lpot.tuning.evaluation import Staging, confidence_bound, make_evaluator
from lpot_toy.engine import ToyEngine, toy_backend


class CountingBackend(Backend):
    """The toy backend, counting the samples it runs through models in ``evaluate``."""

    def __init__(self) -> None:
        super().__init__(ToyEngine(), registered="toy")
        self.samples = 0

    def evaluate(self, model, dataloader, metric, output=None):
        metric.reset()
        for x, y in dataloader:
            self.samples += len(x)
            metric.update(model(x), y)
        return metric.result()


class CountingLoader(ArrayLoader):
    passes = 0

    def __iter__(self):
        type(self).passes += 1
        return super().__iter__()


def _eval_loader(n=1000, batch=25):
    x, y = _data(1, n)
    return CountingLoader(x, y, batch)


def _evaluator(backend, loader, **kwargs):
    return make_evaluator(
        backend,
        eval_func=None,
        eval_dataloader=loader,
        metric_config=create_metric("topk", {"k": 1}),
        higher_is_better=None,
        **kwargs,
    )


def test_confidence_bound_holds_and_is_tighter_than_hoeffding():
    rng = np.random.default_rng(0)
    n, delta, p = 100, 0.01, 0.7
    means = rng.binomial(n, p, size=4000) / n
    misses = np.mean([confidence_bound(m, n, delta, 0.0, 1.0, upper=True) < p for m in means])
    assert misses <= delta
    for mean in (0.05, 0.3, 0.5, 0.95):
        upper = confidence_bound(mean, n, delta, 0.0, 1.0, upper=True)
        lower = confidence_bound(mean, n, delta, 0.0, 1.0, upper=False)
        hoeffding = math.sqrt(math.log(1 / delta) / (2 * n))
        assert mean < upper <= min(1.0, mean + hoeffding) + 1e-12
        assert max(0.0, mean - hoeffding) - 1e-12 <= lower < mean
    assert confidence_bound(0.3, 400, delta, 0, 1, upper=True) < confidence_bound(
        0.3, 100, delta, 0, 1, upper=True
    )
    assert confidence_bound(5.0, 10, delta, 0.0, 10.0, upper=True) == pytest.approx(
        10 * confidence_bound(0.5, 10, delta, 0.0, 1.0, upper=True)
    )


def test_a_clear_failure_is_decided_on_the_slice_and_a_pass_is_exact():
    good = known_answer_model()
    backend = CountingBackend()
    loader = _eval_loader()
    evaluator = _evaluator(backend, loader)
    assert evaluator.staging == Staging()
    baseline = evaluator(good)  # FP32: always all the data
    assert backend.samples == 1000 and baseline > 0.95
    goal = AccuracyCriterion(kind="relative", value=0.01).to_goal(baseline, True)
    broken = _quantized(backend, good, ("fc3",))
    backend.samples, CountingLoader.passes = 0, 0
    result = evaluator.evaluate(broken, goal)
    assert result.on_slice and result.bound < result.goal == goal.threshold
    assert backend.samples == 250 and CountingLoader.passes == 1  # a quarter of the data, read once
    fine = _quantized(backend, good, ("fc2",))
    backend.samples, CountingLoader.passes = 0, 0
    staged = evaluator.evaluate(fine, goal)
    assert not staged.on_slice and backend.samples == 1000 and CountingLoader.passes == 1
    assert staged.value == backend.evaluate(fine, loader, create_metric("topk"))  # the full result, exactly
    assert not evaluator.evaluate(broken).on_slice  # without a goal (the FP32 baseline): all the data


def _quantized(backend, model, int8_ops):
    """``model`` with ``int8_ops`` in INT8 (the others FP32), through the toy backend's own recipe path."""
    from lpot.space import build_space
    from lpot.tuning.calibration import CalibrationStore

    calib = ArrayLoader(*_data(0, 200), 50)
    space = build_space(backend.capability(model), approach="post_training_static_quant")
    recipe = space.default_recipe().fallback([op for op in space.ops if op.name not in int8_ops])
    stats = CalibrationStore(backend, model, calib, folder=None, model_fingerprint="").stats_for(recipe)
    return backend.quantize(model, recipe, stats, space.tensors)


def test_staging_applies_only_where_it_is_safe():
    backend = toy_backend()
    loader = _eval_loader(200)

    def build(metric, staged, eval_func=None):
        return make_evaluator(
            backend,
            eval_func=eval_func,
            eval_dataloader=loader,
            metric_config=create_metric(metric),
            higher_is_better=None,
            staged=staged,
        )

    assert build("accuracy", None).staging is not None
    assert build("accuracy", False).staging is None
    assert build("f1", None).staging is None  # class F1 is not a mean of per-sample scores
    assert build("mse", None).staging is None
    with pytest.raises(ConfigError, match="metric F1 is not a mean of per-sample scores"):
        build("f1", True)
    with pytest.raises(ConfigError, match="an eval_func cannot be run on a slice"):
        build("accuracy", True, eval_func=lambda model: 1.0)
    assert build("accuracy", None, eval_func=lambda model: 1.0).staging is None


def _tune(tmp_path, staged):
    calib = ArrayLoader(*_data(0, 200), 50)
    cfg = config(tmp_path / str(staged), "basic")
    cfg["evaluation"] = {"accuracy": {"metric": {"topk": 1}}}
    if staged is not None:
        cfg["tuning"]["staged_evaluation"] = staged
    result = lpot.tune(
        known_answer_model(), q_dataloader=calib, eval_dataloader=_eval_loader(), config=cfg, progress=False
    )
    events = [
        json.loads(line) for line in (tmp_path / str(staged) / "run.log.jsonl").read_text().splitlines()
    ]
    return result, [e for e in events if e.get("event") == "staged evaluation"]


def test_tuning_reaches_the_same_recipe_with_fewer_samples_evaluated(tmp_path):
    staged, decisions = _tune(tmp_path, None)  # on by default for topk
    full, none = _tune(tmp_path, False)
    assert none == []
    assert staged.status == full.status == "met"
    assert staged.recipe.to_dict() == full.recipe.to_dict()
    assert [t.recipe.fingerprint() for t in staged.trials] == [t.recipe.fingerprint() for t in full.trials]
    assert [t.met for t in staged.trials] == [t.met for t in full.trials]
    assert staged.accuracy == full.accuracy  # the accepted recipe is confirmed on all the data
    assert len(decisions) == len(staged.trials)
    on_slice = [d for d in decisions if d["decided_on_slice"]]
    assert on_slice and all(d["bound"] < d["goal"] for d in on_slice)
    assert not decisions[-1]["decided_on_slice"]
    assert len(on_slice) == sum(not t.met for t in staged.trials)  # every miss here is a clear one


def test_config_key_loads_round_trips_and_is_checked(tmp_path):
    from lpot.config import load_config

    conf = tmp_path / "c.yaml"
    conf.write_text("tuning:\n  staged_evaluation: false\n")
    cfg = load_config(str(conf))
    assert cfg.tuning.staged_evaluation is False
    assert cfg.to_dict()["tuning"]["staged_evaluation"] is False
    assert load_config(cfg.to_dict()).hash() == cfg.hash()
    assert "staged_evaluation" not in load_config({}).to_dict()["tuning"]  # unset: old hashes unchanged
    with pytest.raises(ConfigError, match="tuning.staged_evaluation"):
        load_config({"tuning": {"staged_evaluation": "yes"}})
