"""The chosen model in its deployed form (``Feature.FINALIZE``), scored again (issue 17, deliverable 7).

PyTorch compiles the chosen pt2e graph with inductor, which takes half a minute and so is done once,
for the returned model, not for every trial. The core must then report the finalized model's own
accuracy and objective, and keep the tuned model where finalizing fails, scores worse or runs slower.
"""

from __future__ import annotations

import time

import pytest

import lpot
import toy_job
from lpot.backend import Backend
from lpot.engine import Feature
from lpot_toy.engine import ToyEngine
from lpot_toy.model import QuantizedMLP


class Finalized(QuantizedMLP):
    """The toy's stand-in for a compiled model: the same layers, optionally slower per call."""

    slow = False

    def forward(self, x):
        if self.slow:
            time.sleep(0.005)
        return super().forward(x)


class FinalizingEngine(ToyEngine):
    features = ToyEngine.features | {Feature.FINALIZE}

    def __init__(self, how: str = "ok") -> None:
        self.how = how
        self.calls = 0

    def finalize(self, model):
        self.calls += 1
        if self.how == "raise":
            raise RuntimeError("no C++ compiler found")
        final = Finalized(layers=list(model.layers), recipe_json=model.recipe_json)
        final.slow = self.how == "slower"
        return final


class ScoringEval(toy_job.PenalizingEval):
    """The toy's real accuracy; a finalized model scores ``finalized_delta`` apart from it."""

    def __init__(self, finalized_delta: float, sensitive: tuple[str, ...] = ()) -> None:
        super().__init__(sensitive, penalty=0.5)
        self.delta = finalized_delta

    def __call__(self, model) -> float:
        return super().__call__(model) + (self.delta if isinstance(model, Finalized) else 0.0)


def _tune(tmp_path, toy_model, toy_loaders, how: str, delta: float = -0.001, sensitive=(), **tuning):
    calib, _ = toy_loaders
    engine = FinalizingEngine(how)
    evaluate = ScoringEval(delta, sensitive)
    result = lpot.tune(
        toy_model,
        q_dataloader=calib,
        eval_func=evaluate,
        config=toy_job.config(tmp_path, **tuning),
        backend=Backend(engine),
        progress=False,
    )
    return result, engine, evaluate


def test_the_finalized_model_is_returned_with_its_own_figures(tmp_path, toy_model, toy_loaders):
    # model size: the same for both forms, and noiseless (a latency within the noise passes too)
    result, engine, evaluate = _tune(tmp_path, toy_model, toy_loaders, "ok", objective="modelsize")
    assert engine.calls == 1  # once, for the chosen model only
    assert isinstance(result.model, Finalized)
    assert evaluate.calls == 2 + len(result.trials)  # baseline, each trial, then the finalized model
    assert result.accuracy == pytest.approx(result.best_trial.accuracy - 0.001)  # its own score
    assert result.objective == result.best_trial.objective  # measured again: the same bytes
    assert not result.warnings
    assert (tmp_path / "best_model" / "recipe.json").is_file()


def test_a_failing_finalize_returns_the_tuned_model_and_says_why(tmp_path, toy_model, toy_loaders):
    result, engine, _ = _tune(tmp_path, toy_model, toy_loaders, "raise")
    assert engine.calls == 1 and type(result.model) is QuantizedMLP
    assert result.status == "met" and result.accuracy == result.best_trial.accuracy
    assert any("finalizing it failed (RuntimeError: no C++ compiler found)" in w for w in result.warnings)


def test_a_finalized_model_that_misses_the_goal_is_not_returned(tmp_path, toy_model, toy_loaders):
    result, _, _ = _tune(tmp_path, toy_model, toy_loaders, "ok", delta=-0.5)
    assert type(result.model) is QuantizedMLP
    assert result.accuracy == result.best_trial.accuracy and result.status == "met"
    assert any("its finalized form scored" in w for w in result.warnings)


def test_where_no_recipe_met_the_goal_rounding_is_no_reason_to_refuse(tmp_path, toy_model, toy_loaders):
    # one trial, the all-INT8 recipe, which misses the goal (its first layer costs 0.5)
    missing = {
        "sensitive": toy_job.LAYERS[:1],
        "objective": "modelsize",
        "exit_policy": {"timeout": 0, "max_trials": 1},
    }
    result, _, _ = _tune(tmp_path / "a", toy_model, toy_loaders, "ok", delta=-1e-5, **missing)
    assert result.status != "met" and isinstance(result.model, Finalized)
    result, _, _ = _tune(tmp_path / "b", toy_model, toy_loaders, "ok", delta=-0.05, **missing)
    assert result.status != "met" and type(result.model) is QuantizedMLP
    assert any("its finalized form scored" in w for w in result.warnings)


def test_a_slower_finalized_model_is_not_returned(tmp_path, toy_model, toy_loaders):
    result, _, _ = _tune(tmp_path, toy_model, toy_loaders, "slower")  # 5 ms a call more: 10x slower
    assert type(result.model) is QuantizedMLP
    assert result.objective == result.best_trial.objective
    assert any("its finalized form measured" in w for w in result.warnings)


def test_an_engine_without_the_feature_returns_the_model_itself(toy_model):
    backend = Backend(ToyEngine())
    assert not backend.has(Feature.FINALIZE)
    assert backend.finalize(toy_model) is toy_model
