"""Parallel tuning, executor-independent parts: batches in the strategy base class, the
``tuning.executor`` config and CLI flags, and helpers the local and ray executor tests share.

The helpers tune the known-answer model of ``test_strategy_common`` (8 layers, fc3 and fc6 must
stay FP32) with its deterministic objective, so serial and parallel runs can be compared exactly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from strategy_driver import start
from test_strategy_common import Accuracy, Fp32Layers, config, known_answer_model, loaders

import lpot
from lpot.cli import _parser, with_executor
from lpot.config import load_config
from lpot.errors import ConfigError
from lpot.recipe import Recipe
from lpot.space import build_space
from lpot.strategies.base import WAIT, Batch, SearchStrategy, met
from lpot.trial import Trial
from lpot_toy.engine import toy_backend

DETERMINISTIC = ("basic", "mse", "exhaustive")


# --- helpers shared by test_executor_local and test_executor_ray ------------------------------


class Traced(Accuracy):
    """Accuracy that appends ``{pid, start, end, cores}`` per evaluation to ``log`` and sleeps ``sleep`` s.

    ``die_once``: the first evaluation in a worker that finds no ``<log>.died`` marker creates it
    and SIGKILLs its own process (a worker lost mid-trial)."""

    def __init__(self, log: Path, sleep: float = 0.0, die_once: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log, self.sleep, self.die_once = str(log), sleep, die_once
        self.driver = os.getpid()  # never kill the driver (it evaluates the FP32 baseline)

    def __call__(self, model: Any) -> float:
        start = time.time()
        if self.die_once and os.getpid() != self.driver and not os.path.exists(self.log + ".died"):
            Path(self.log + ".died").write_text(str(os.getpid()))
            os.kill(os.getpid(), 9)
        time.sleep(self.sleep)
        value = super().__call__(model)
        with open(self.log, "a") as fh:
            cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
            fh.write(
                json.dumps({"pid": os.getpid(), "start": start, "end": time.time(), "cores": cores}) + "\n"
            )
        return value


def tune(
    workspace: Path,
    strategy: str,
    executor: Any = "serial",
    evaluate: Any = None,
    resume: bool = False,
    **kw: Any,
) -> Any:
    return lpot.tune(
        known_answer_model(),
        q_dataloader=loaders()[0],
        eval_func=evaluate or Accuracy(),
        config=config(workspace, strategy, executor=executor, **kw),
        objective=Fp32Layers(),
        resume=resume,
        progress=False,
    )


def history(workspace: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(Path(workspace) / "history.sqlite") as db:
        db.row_factory = sqlite3.Row
        return [
            dict(r) for r in db.execute("SELECT idx, fingerprint, label, status FROM trials ORDER BY idx")
        ]


def assert_same_as_serial(serial: Any, parallel: Any, workspace: Path) -> None:
    """The parallel run reached the serial answer by the serial path, and its history holds every
    trial it ran exactly once."""
    assert parallel.status == serial.status
    assert parallel.recipe == serial.recipe
    assert parallel.best_trial.index == serial.best_trial.index
    # what counts is what serial ran, in the same order: every trial up to the deciding one (indices
    # follow proposal order); later ones ran speculatively in the other worker
    deciding = [t.fingerprint for t in parallel.trials if t.index <= parallel.best_trial.index]
    assert deciding == [t.fingerprint for t in serial.trials]
    assert [t.fingerprint for t in parallel.trials] == [t.fingerprint for t in serial.trials]
    rows = history(workspace)
    ran = [*parallel.trials, *parallel.uncounted_trials]
    assert len({r["fingerprint"] for r in rows}) == len(rows) == len(ran)
    assert [r["idx"] for r in rows] == list(range(1, len(rows) + 1))  # nothing lost, nothing twice
    # the others ran while the deciding trial was running (speculatively), and were proposed after it
    assert all(t.index > parallel.best_trial.index for t in parallel.uncounted_trials)


def read_log(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(log).read_text().splitlines()] if Path(log).exists() else []


# --- batches in the strategy base class -------------------------------------------------------


def _space() -> Any:
    backend, model = toy_backend(), known_answer_model(4, ("fc3",))
    return build_space(backend.capability(model), approach="post_training_static_quant")


def _trial(recipe: Recipe, ok: bool, index: int = 0) -> Trial:
    return Trial(index=index, recipe=recipe, label="", accuracy=1.0 if ok else 0.0, met=ok)


class _Scripted(SearchStrategy):
    """One single proposal, then a batch of single-op fallbacks cut at the first met, then done."""

    name = "scripted"

    def search(self) -> Any:
        base = self.space.default_recipe()
        self.first = yield "default", base
        ops = base.quantized_ops()
        self.got = yield Batch(((f"fb {op.name}", base.fallback([op])) for op in ops), until=met)
        self.stop_reason = "scripted"


def test_batch_items_are_proposed_without_waiting_and_cut_at_the_first_met():
    strategy = _Scripted()
    strategy = start(strategy, _space())
    first = strategy.ask()
    assert first.label == "default"
    assert strategy.ask() is WAIT  # the single proposal needs its result before anything else
    assert strategy.tell(first.ticket, _trial(first.recipe, False))
    a, b, c = strategy.ask(), strategy.ask(), strategy.ask()  # independent: three in flight
    assert [p.label for p in (a, b, c)] == ["fb fc1", "fb fc2", "fb fc3"]
    assert strategy.tell(a.ticket, _trial(a.recipe, False))
    assert strategy.tell(b.ticket, _trial(b.recipe, True))  # b meets: the batch is cut after it
    assert strategy.ask() is None  # fc4 is never proposed; the search ends
    assert [t.recipe for t in strategy.got] == [a.recipe, b.recipe]
    assert not strategy.tell(c.ticket, _trial(c.recipe, True))  # after the cut: not used


def test_a_batch_waits_for_every_item_before_the_cut_is_known():
    strategy = _Scripted()
    strategy = start(strategy, _space())
    first = strategy.ask()
    strategy.tell(first.ticket, _trial(first.recipe, False))
    items = [strategy.ask() for _ in range(4)]
    assert strategy.ask() is WAIT  # every item is out; the results decide
    for p in items[:-1]:
        strategy.tell(p.ticket, _trial(p.recipe, False))
    assert strategy.ask() is WAIT
    strategy.tell(items[-1].ticket, _trial(items[-1].recipe, False))
    assert strategy.ask() is None and len(strategy.got) == 4


def test_propose_observe_still_go_one_at_a_time():
    strategy = _Scripted()
    strategy = start(strategy, _space())
    seen = []
    while (recipe := strategy.propose()) is not None:
        seen.append(strategy.label)
        with pytest.raises(RuntimeError, match="propose\\(\\) called twice"):
            strategy.propose()
        strategy.observe(_trial(recipe, strategy.label == "fb fc2"))
    assert seen == ["default", "fb fc1", "fb fc2"]  # one at a time: nothing proposed after the met one


# --- config and CLI -----------------------------------------------------------------------------


def test_executor_config_and_its_precise_errors():
    cfg = load_config({"tuning": {"executor": {"name": "local", "workers": 2, "cores_per_worker": 1}}})
    assert cfg.tuning.executor.workers == 2 and cfg.tuning.executor.name == "local"
    assert load_config(cfg.to_dict()) == cfg
    assert load_config({"tuning": {"executor": "ray"}}).tuning.executor.name == "ray"
    assert "executor" not in load_config({}).to_dict()["tuning"]  # the default leaves configs as they were
    bad = {
        "loca": "tuning.executor.name: expected one of serial, local, ray, got 'loca'; did you mean 'local'?",
        "{workrs: 2}": "unknown key 'tuning.executor.workrs'; did you mean 'workers'?",
        "{name: serial, workers: 2}": "tuning.executor.workers: the serial executor runs one trial at a time",
        "{name: local, address: auto}": "tuning.executor.address: only the ray executor connects to a cluster",
        "{name: local, workers: 0}": "tuning.executor.workers: expected a positive integer, got 0 (int)",
        "{name: ray, max_retries: -1}": "tuning.executor.max_retries: expected an integer >= 0",
    }
    import yaml

    for text, message in bad.items():
        with pytest.raises(ConfigError) as info:
            load_config({"tuning": {"executor": yaml.safe_load(text)}})
        assert message in str(info.value)


def test_the_executor_does_not_change_the_resume_hash(tmp_path):
    serial = tune(tmp_path, "mse")
    again = tune(tmp_path, "mse", executor={"name": "local", "workers": 2}, resume=True)
    assert again.recipe == serial.recipe
    assert all(t.replayed for t in again.trials)


def test_cli_flags_override_the_config():
    args = _parser().parse_args(["tune", "c.yaml", "--model", "m", "--executor", "ray", "--workers", "3"])
    cfg = with_executor(load_config({}), args.executor, args.workers)
    assert (cfg.tuning.executor.name, cfg.tuning.executor.workers) == ("ray", 3)
    assert with_executor(load_config({}), None, 2).tuning.executor.name == "local"  # --workers alone
    local = load_config({"tuning": {"executor": {"name": "local", "workers": 4}}})
    assert with_executor(local, "serial", None).tuning.executor.workers is None
    with pytest.raises(ConfigError, match="--executor/--workers: .*serial executor runs one trial"):
        with_executor(local, "serial", 2)
