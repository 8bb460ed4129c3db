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

import numpy as np
import pytest

import lpot
from lpot import plugins
from lpot.data import ArrayLoader
from lpot.errors import PluginError
from lpot.space import build_space
from lpot_toy.engine import toy_backend
from lpot_toy.model import MLP

WIDTH = 16  # features; one more spare channel carries the outlier
CLASSES = 4
OUTLIER = 10_000.0
# One INT8 config per op (uint8 asym minmax activations, per-channel weights): 2^n recipes.
ONE_CONFIG = {
    "activation": {"dtype": ["uint8"], "scheme": ["asym"], "algorithm": ["minmax"]},
    "weight": {"granularity": ["per_channel"]},
}
STRATEGIES = ("basic", "random", "exhaustive", "mse", "sensitivity", "bayesian", "tpe")


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    centers = np.random.default_rng(99).normal(0, 3, size=(CLASSES, WIDTH))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, size=n)
    x = centers[y] + rng.normal(0, 0.7, size=(n, WIDTH)) + 10.0  # positive: ReLU keeps everything
    return x.astype(np.float32), y.astype(np.int64)


def known_answer_model(n: int = 8, bad: tuple[str, ...] = ("fc3", "fc6")) -> MLP:
    """``n`` layers fc1..fcn; quantizing any layer in ``bad`` (not fc1) destroys accuracy."""
    names = [f"fc{i + 1}" for i in range(n)]
    assert "fc1" not in bad, "the input has no outlier channel; fc1 cannot be a bad layer"
    rng = np.random.default_rng(7)
    x, y = _data(0, 400)
    h, layers = x, []
    for i, name in enumerate(names[:-1]):
        w = np.eye(WIDTH + 1, dtype=np.float32)[: h.shape[1]]  # the input has no spare channel
        w[:WIDTH, :WIDTH] += rng.normal(0, 0.05, size=(WIDTH, WIDTH)).astype(np.float32)
        w[WIDTH:, :] = 0.0  # every layer ignores the spare channel ...
        w[:, WIDTH] = 0.0
        b = np.zeros(WIDTH + 1, np.float32)
        if names[i + 1] in bad:
            b[WIDTH] = OUTLIER  # ... which the layer before a bad one fills with a huge constant
        layers.append((name, w, b))
        h = np.maximum(h @ w + b, 0)
    target = np.eye(CLASSES, dtype=np.float32)[y]
    readout = np.linalg.lstsq(np.c_[h[:, :WIDTH], np.ones(len(h))], target, rcond=None)[0].astype(np.float32)
    w_out = np.zeros((WIDTH + 1, CLASSES), np.float32)
    w_out[:WIDTH] = readout[:-1]
    layers.append((names[-1], w_out, readout[-1]))
    return MLP(layers)


def loaders() -> tuple[ArrayLoader, ArrayLoader]:
    x, y = _data(1, 400)
    return ArrayLoader(x[:200], y[:200], 50), ArrayLoader(x[200:], y[200:], 50)


class Accuracy:
    """Real top-1 accuracy of the model on held-out blobs; ``error=True`` returns 1 - accuracy."""

    def __init__(self, error: bool = False, interrupt_after: int | None = None) -> None:
        self.data = loaders()[1]
        self.error = error
        self.interrupt_after = interrupt_after
        self.calls = 0

    def __call__(self, model: Any) -> float:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of a trial
        correct = total = 0
        for x, y in self.data:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
        accuracy = correct / total
        return 1.0 - accuracy if self.error else accuracy


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


class Fp32Layers:
    """The number of layers left in FP32 (lower is better): a deterministic stand-in for latency,
    so two runs measure the same thing and the best met trial is the most INT8 one."""

    name = "fp32_layers"
    unit = "layers"
    higher_is_better = False

    def measure(self, backend: Any, model: Any, dataloader: Any) -> float:
        return float(len(model.layers) - len(getattr(model, "int8_layers", [])))


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
