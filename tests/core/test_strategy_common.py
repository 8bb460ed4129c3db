"""The known-answer model every strategy is tested on, and what all strategies share.

``known_answer_model(n, bad)`` is a chain of ``n`` dense layers (numpy INT8 toy backend) where
quantizing exactly the layers in ``bad`` destroys accuracy, for real: the layer before each bad one
writes a constant 10 000 into a spare channel that the bad layer ignores in FP32, so the bad layer's
calibrated INT8 input range is [0, 10 000] and every useful activation rounds to zero. No calibration
algorithm, scheme or dtype rescues it; only FP32 does. Every other layer loses nothing measurable.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import lpot
from lpot import plugins
from lpot.errors import PluginError
from lpot.space import build_space
from lpot_toy.engine import toy_backend
from lpot_toy.known_answer import (  # noqa: F401  (shared with tests/reliability)
    CLASSES,
    ONE_CONFIG,
    OUTLIER,
    STRATEGIES,
    WIDTH,
    Accuracy,
    Fp32Layers,
    _data,
    known_answer_model,
    loaders,
)
from lpot_toy.model import MLP


def config(workspace: Path, strategy: str, *, one_config: bool = True, **tuning: Any) -> dict[str, Any]:
    params = tuning.pop("params", {})
    quantization: dict[str, Any] = {"calibration": {"sampling_size": 100}}
    if one_config:
        quantization["model_wise"] = ONE_CONFIG
    return {
        "model": {"name": "known_answer", "framework": None},
        "quantization": quantization,
        "tuning": {
            "strategy": {"name": strategy, **params},
            "accuracy_criterion": {"relative": 0.01},
            "exit_policy": {"timeout": 0, "max_trials": 100},
            "random_seed": 1978,
            "workspace": {"path": str(workspace)},
            **tuning,
        },
    }


def tune(
    workspace: Path,
    strategy: str,
    *,
    model: MLP | None = None,
    evaluate: Any = None,
    resume: bool = False,
    **kwargs: Any,
) -> Any:
    """Tune the known-answer model (8 layers, fc3 and fc6 bad) with ``strategy``."""
    return lpot.tune(
        model if model is not None else known_answer_model(),
        q_dataloader=loaders()[0],
        eval_func=evaluate or Accuracy(),
        config=config(workspace, strategy, **kwargs),
        objective=Fp32Layers(),
        resume=resume,
        progress=False,
    )


def fp32_names(recipe: Any) -> list[str]:
    return sorted(op.name for op in recipe.fp32_ops())


def labels(result: Any) -> list[str]:
    return [t.label for t in result.trials]


def recipes(result: Any) -> list[str]:
    return [t.recipe.fingerprint() for t in result.trials]


def resume_equivalence(tmp_path: Path, strategy: str, cut: int, **kwargs: Any) -> None:
    """A run interrupted (Ctrl-C) after ``cut`` evaluations, then resumed, tries exactly what an
    uninterrupted run tries, and evaluates none of the finished trials again."""
    fresh = tune(tmp_path / "fresh", strategy, **kwargs)
    assert len(fresh.trials) > cut, "cut the run before it ends"
    with pytest.raises(KeyboardInterrupt):
        tune(tmp_path / "cut", strategy, evaluate=Accuracy(interrupt_after=cut + 1), **kwargs)  # +1: baseline
    evaluate = Accuracy()
    resumed = tune(tmp_path / "cut", strategy, evaluate=evaluate, resume=True, **kwargs)
    assert recipes(resumed) == recipes(fresh)
    assert labels(resumed) == labels(fresh)
    assert [t.replayed for t in resumed.trials] == [True] * cut + [False] * (len(fresh.trials) - cut)
    assert evaluate.calls == len(fresh.trials) - cut  # no baseline, no finished trial again
    assert resumed.status == fresh.status and resumed.recipe == fresh.recipe


# --- what every strategy shares -------------------------------------------------------------


def test_the_known_answer_model_is_what_it_claims():
    model, calib = known_answer_model(), loaders()[0]
    backend = toy_backend()
    space = build_space(backend.capability(model), approach="post_training_static_quant")
    from lpot.engine import CalibrationSpec

    stats = {
        a: backend.calibrate(model, calib, CalibrationSpec(algorithm=a, sampling_size=100))
        for a in ("minmax", "percentile")
    }
    evaluate = Accuracy()
    fp32 = evaluate(model)
    assert fp32 > 0.95
    default = space.default_recipe()

    def accuracy(recipe):
        return evaluate(backend.quantize(model, recipe, stats, space.tensors))

    assert accuracy(default.fallback([op for op in space.ops if op.name in ("fc3", "fc6")])) >= fp32 * 0.99
    for keep in ("fc3", "fc6"):
        assert accuracy(default.fallback([op for op in space.ops if op.name == keep])) < 0.5
    for cfg in space.choices[space.ops[2]]:  # no INT8 config of fc3 rescues it
        assert accuracy(default.fallback([space.ops[5]]).with_ops({space.ops[2]: cfg})) < 0.5


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_is_an_entry_point(name):
    strategy = plugins.create("lpot.strategies", name)
    assert strategy.name == name


@pytest.mark.parametrize("name", ["random", "exhaustive", "mse", "sensitivity", "bayesian", "tpe"])
def test_lower_is_better_metric_and_absolute_criterion(tmp_path, name):
    """An error rate (lower is better) with an absolute tolerance: the same two ops stay FP32."""
    result = tune(
        tmp_path,
        name,
        evaluate=Accuracy(error=True),
        accuracy_criterion={"absolute": 0.01, "higher_is_better": False},
    )
    assert result.status == "met", result.stop_reason
    assert {"fc3", "fc6"} <= set(fp32_names(result.recipe))
    assert result.accuracy <= result.baseline_accuracy + 0.01


@pytest.mark.parametrize("name", ["random", "exhaustive", "mse", "sensitivity", "bayesian", "tpe"])
def test_max_trials_ends_the_search_with_budget_spent(tmp_path, name):
    result = tune(tmp_path, name, exit_policy={"timeout": 0, "max_trials": 1})
    assert len(result.trials) == 1
    assert result.status == "budget_spent" and result.stop_reason == "max_trials=1 reached"


@pytest.mark.parametrize(
    ("name", "max_trials"),
    [("random", 20), ("exhaustive", 30), ("mse", 12), ("sensitivity", 12), ("bayesian", 8), ("tpe", 8)],
)
def test_timeout_keeps_searching_within_the_budget(tmp_path, name, max_trials):
    """Budget mode (timeout > 0): the search goes on after the first recipe that meets the goal."""
    result = tune(tmp_path, name, exit_policy={"timeout": 3600, "max_trials": max_trials})
    assert result.status == "met"
    assert result.stop_reason.startswith(f"best of {len(result.trials)} trials within the budget")
    assert {"fc3", "fc6"} <= set(fp32_names(result.recipe))


def test_an_unmeetable_goal_ends_with_the_strategy_s_reason(tmp_path):
    """A criterion nothing but FP32 meets: the search ends exhausted and says why."""

    def picky(model):
        return 1.0 if isinstance(model, MLP) else 0.0

    result = tune(tmp_path, "exhaustive", evaluate=picky, model=known_answer_model(n=3, bad=()))
    assert result.status == "exhausted"
    assert result.stop_reason == "space exhausted: all 8 recipes tried"
    assert len(result.trials) == 8


def test_a_missing_optional_dependency_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_optuna(name, *args, **kwargs):
        if name.split(".")[0] in ("optuna", "bayes_opt"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_optuna)
    for name in ("optuna", "bayes_opt"):
        monkeypatch.delitem(__import__("sys").modules, name, raising=False)
    with pytest.raises(PluginError, match=r"pip install 'lpot-core\[tpe\]'"):
        plugins.create("lpot.strategies", "tpe")
    with pytest.raises(PluginError, match=r"pip install 'lpot-core\[bayesian\]'"):
        plugins.create("lpot.strategies", "bayesian")


def test_target_orders_met_before_unmet_and_int8_share_among_met():
    from lpot.recipe import Recipe
    from lpot.strategies._space import target
    from lpot.trial import Trial

    model = known_answer_model(n=4, bad=())
    space = build_space(toy_backend().capability(model), approach="post_training_static_quant")
    r = space.default_recipe()

    def t(recipe: Recipe, accuracy: float, met: bool, status: str = "ok") -> Trial:
        return Trial(index=1, recipe=recipe, label="", accuracy=accuracy, met=met, status=status)

    values = [
        target(t(r, 0.99, True), 0.99),
        target(t(r.fallback(space.ops[:1]), 0.99, True), 0.99),
        target(t(r, 0.9, False), 0.9),
        target(t(r, 0.1, False), 0.1),
        target(t(r, math.nan, False, "failed"), -math.inf),
    ]
    assert values == sorted(values, reverse=True) and len(set(values)) == len(values)
