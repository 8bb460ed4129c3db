"""The engine contract as a third-party package sees it: aliases, declared features, the one range
rule, and the parts of the loop (scheduler, monitor, goal) on their own."""

from __future__ import annotations

import logging
from collections import deque

import pytest

import lpot
import toy_job
from lpot import plugins
from lpot.engine import CalibrationSpec, Feature, Stats, tensor_ranges
from lpot.errors import PluginError, QuantizationError
from lpot.goal import Goal
from lpot.recipe import FP32_OP, OpConfig, OpKey, Recipe, TensorConfig
from lpot.strategies.base import Proposal
from lpot.trial import FAILED, Trial
from lpot.tuning.monitor import Monitor
from lpot.tuning.result import Status
from lpot.tuning.scheduler import Scheduler
from lpot_toy.engine import ToyEngine

A, B, C = OpKey("a", "Dense"), OpKey("b", "Dense"), OpKey("c", "Dense")


def _int8(algorithm: str | None = None) -> OpConfig:
    return OpConfig(activation=TensorConfig(dtype="uint8", algorithm=algorithm))


def _stats(algorithm: str, value: float) -> Stats:
    return Stats(
        spec=CalibrationSpec(algorithm=algorithm),
        ranges={t: (0.0, value) for t in ("x", "a_out", "b_out", "c_out")},
    )


# ---------------------------------------------------------------- aliases and plugin checks


def test_a_fifth_backend_is_named_in_yaml_by_its_own_alias_with_no_core_edit(
    tmp_path, toy_model, toy_loaders
):
    cfg = toy_job.config(tmp_path)
    cfg["model"] = {"framework": "numpy_mlp"}  # published by the toy package's lpot.frameworks entry point
    result = lpot.tune(
        toy_model, q_dataloader=toy_loaders[0], eval_func=toy_job.PenalizingEval(), config=cfg, progress=False
    )
    assert result.status == "met" and result.backend_name == "toy"
    assert plugins.framework_names()["numpy_mlp"] == "toy"


class _Lacking:
    """An engine that declares inspection but cannot do it, and forgot ``read``."""

    name = "lacking"
    aliases: dict = {}
    features = frozenset({Feature.INSPECT})


def test_an_engine_is_checked_against_its_declarations_when_it_loads():
    engine = ToyEngine()
    assert plugins.engine_problems(engine) == []
    problems = plugins.engine_problems(_Lacking())
    assert problems == [
        "missing accepts, load, capability, calibrate, quantize, predict, set_threads, runner, serialize, save, read"
    ]
    lying = type("Lying", (ToyEngine,), {"features": frozenset({Feature.OP_WEIGHTS})})()
    assert plugins.engine_problems(lying) == ["declares feature 'op_weights' but has no op_weights"]
    with pytest.raises(PluginError, match="Lying does not implement the lpot Engine contract"):
        lpot.tune(toy_job.make_model(), eval_func=lambda m: 1.0, backend=lying, progress=False)


# ---------------------------------------------------------------- the range rule


def test_the_majority_algorithm_ranges_everything_and_a_dissenting_op_its_own_tensors():
    recipe = Recipe(ops={A: _int8("kl"), B: _int8("kl"), C: _int8("minmax")})
    stats = {"kl": _stats("kl", 1.0), "minmax": _stats("minmax", 9.0)}
    tensors = {"a": ("x", "a_out"), "b": ("b_out",), "c": ("c_out",)}
    ranges = tensor_ranges(recipe, stats, tensors)
    assert ranges == {"x": (0.0, 1.0), "a_out": (0.0, 1.0), "b_out": (0.0, 1.0), "c_out": (0.0, 9.0)}
    # a model-wise algorithm option is the default of every op that names none
    by_option = Recipe(ops={A: _int8(), B: _int8()}, options={"activation.algorithm": "kl"})
    assert by_option.calibration_algorithms() == {"kl"}
    assert tensor_ranges(by_option, stats, tensors)["c_out"] == (0.0, 1.0)
    with pytest.raises(
        QuantizationError, match=r"no calibration statistics for algorithm\(s\) \['percentile'\]"
    ):
        tensor_ranges(Recipe(ops={A: _int8("percentile")}), stats, tensors)
    assert tensor_ranges(Recipe(ops={A: FP32_OP}), {}, tensors) == {}


# ---------------------------------------------------------------- goal


def test_goal_orients_and_tolerates_rounding():
    up = Goal.relative(0.33, 0.1)
    assert up.threshold == pytest.approx(0.297) and up.met(0.297) and not up.met(0.29)
    down = Goal.absolute(2.0, 0.5, higher_is_better=False)
    assert down.met(2.5) and not down.met(2.6)
    assert down.oriented(1.0) > down.oriented(2.0) and down.margin(2.4) == pytest.approx(0.1)
    assert not up.met(float("nan")) and up.oriented(float("nan")) == float("-inf")


# ---------------------------------------------------------------- monitor


def _trial(index: int, met: bool, accuracy: float = 0.5, objective: float | None = 1.0, ops=(A,)) -> Trial:
    recipe = Recipe(ops={op: _int8() for op in ops}, calib_sampling_size=index)  # distinct per index
    return Trial(
        index=index, recipe=recipe, label=f"t{index}", accuracy=accuracy, met=met, objective=objective
    )


def test_monitor_stops_at_the_first_met_trial_and_keeps_the_best():
    monitor = Monitor(Goal.absolute(1.0, 0.1), False, max_trials=10, timeout=0)
    assert monitor.count(_trial(1, False, 0.5), used=True) and monitor.best.index == 1
    assert monitor.count(_trial(2, False, 0.7), used=True) and monitor.best.index == 2
    assert not monitor.stopping
    monitor.count(_trial(3, True, 0.95), used=True)
    assert monitor.stopping and monitor.decided and monitor.outcome() == (Status.MET, "trial 3 met the goal")
    assert not monitor.count(_trial(4, True, 0.99), used=True)  # after the decision: recorded, not counted
    assert [t.index for t in monitor.trials] == [1, 2, 3] and set(monitor.surplus) == {
        _trial(4, True).fingerprint
    }


def test_monitor_budget_refining_and_failures():
    monitor = Monitor(Goal.absolute(1.0, 0.1), False, max_trials=2, timeout=0, refines=True)
    monitor.count(_trial(1, True, 0.95, objective=3.0), used=True)
    assert not monitor.stopping  # a refining strategy goes on after the first met trial
    monitor.count(_trial(2, True, 0.93, objective=2.0), used=True)
    assert monitor.best.index == 2  # among met trials: the better objective (lower latency)
    assert not monitor.budget_left(distinct=2) and monitor.status == Status.BUDGET_SPENT
    status, reason = monitor.outcome()
    assert status == Status.MET and reason.startswith("trial 1 met the goal, then the strategy refined it")
    failed = Monitor(Goal.absolute(1.0, 0.1), False, max_trials=5, timeout=0)
    failed.count(
        Trial(
            index=1, recipe=Recipe(), label="x", accuracy=float("nan"), met=False, status=FAILED, error="boom"
        ),
        True,
    )
    failed.search_ended("nothing left")
    assert failed.outcome() == (Status.FAILED, "every one of 1 trials failed; the first: boom")


# ---------------------------------------------------------------- scheduler


class _Executor:
    """Finishes submitted trials in the reverse order they were submitted."""

    workers = 2
    remote = True
    name = "fake"

    def __init__(self) -> None:
        self.queue: deque = deque()

    @property
    def busy(self) -> int:
        return len(self.queue)

    def submit(self, task) -> None:
        self.queue.append(task)

    def wait(self):
        task = self.queue.pop()
        return [(task, _trial(task.index, met=False, ops=tuple(task.recipe.ops)))]

    def close(self) -> None:
        pass


def test_scheduler_releases_in_proposal_order_answers_repeats_and_replays():
    from lpot.tuning.executors import TrialTask

    executor, recorded = _Executor(), []
    replayed = _trial(7, False, ops=(C,))
    goal = Goal.absolute(1.0, 0.1)
    scheduler = Scheduler(
        executor,
        {replayed.fingerprint: replayed},
        lambda index, label, recipe: executor.submit(TrialTask(index, label, recipe, goal)),
        recorded.append,
    )
    first, second = Recipe(ops={A: _int8()}), Recipe(ops={B: _int8()})
    for ticket, recipe in enumerate((first, second, first, replayed.recipe), start=1):
        scheduler.add(Proposal(ticket, f"p{ticket}", recipe))
    assert scheduler.distinct == 3 and scheduler.busy == 2  # the repeat and the replay start nothing
    assert list(scheduler.release()) == []  # the head (first) is still running
    scheduler.collect()  # the second finishes first ...
    assert list(scheduler.release()) == []  # ... but waits for the first
    scheduler.collect()
    released = list(scheduler.release())
    assert [p.ticket for p in released] == [1, 2, 3, 4]
    assert released[0].trial is released[2].trial and released[3].trial is replayed
    assert [t.index for t in recorded] == [2, 1] and {p.trial.index for p in released[:2]} == {1, 2}


def test_ignored_lpot_keys_are_said_once_at_load(caplog):
    with caplog.at_level(logging.WARNING, logger="lpot"):
        cfg = lpot.load_config(
            {
                "quantization": {"advance": {"bias_correction": "weight_empirical"}},
                "tuning": {"workspace": {"path": "ws", "resume": "ws/history.snapshot"}},
            }
        )
    assert cfg.tuning.workspace.path == "ws"
    assert "quantization.advance is ignored" in caplog.text
    assert "tuning.workspace.resume is ignored: it names LPOT's pickled snapshot" in caplog.text


def test_performance_only_evaluates_nothing_and_says_so(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path)
    cfg["tuning"]["exit_policy"] = {"performance_only": True}

    def never(model):
        raise AssertionError("performance_only must not evaluate")

    result = lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=never, config=cfg, progress=False)
    assert result.status == "met" and len(result.trials) == 1
    assert result.recipe.quantized_ops() and "accuracy was not evaluated" in result.warnings[0]
    plain = lpot.load_config(toy_job.config(tmp_path))
    assert lpot.load_config(cfg).hash() != plain.hash()  # it changes what trials are worth


def test_op_errors_of_a_masked_tensor_holding_infinities_are_finite():
    """An exported attention mask adds -inf; FP32 and INT8 agree there, so it is no error (the
    difference was inf - inf = NaN, and NaN ranked the op first or last at random)."""
    import numpy as np

    from lpot.backend import Backend
    from lpot.engine import Feature
    from lpot.recipe import OpKey

    class Masked:
        name = "masked"
        features = frozenset({Feature.INSPECT})

        def inspect(self, model, inputs, ops):
            scores = np.array([[0.5, -np.inf], [1.0, -np.inf]]) + model
            return {op.name: scores for op in ops}

    backend = Backend(Masked())
    errors = backend.op_errors(0.0, 0.1, [OpKey("attn", "Add")], [(np.zeros(2), None)])
    assert np.isfinite(errors["attn"]) and 0 < errors["attn"] < 0.1
