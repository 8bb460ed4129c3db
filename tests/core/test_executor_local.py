"""The ``local`` executor: two pinned worker processes on this machine.

Also runnable as a script (``python test_executor_local.py WORKSPACE LOG [--resume]``): the
driver that the resume test kills with SIGKILL.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from test_executor_common import (
    DETERMINISTIC,
    Traced,
    assert_same_as_serial,
    history,
    read_log,
    tune,
)
from test_strategy_common import Accuracy, fp32_names

from lpot.errors import ConfigError

LOCAL2 = {"name": "local", "workers": 2}


@pytest.mark.parametrize("strategy", DETERMINISTIC)
def test_two_workers_reach_the_serial_answer(tmp_path, strategy):
    serial = tune(tmp_path / "serial", strategy)
    parallel = tune(tmp_path / "local", strategy, LOCAL2)
    assert_same_as_serial(serial, parallel, tmp_path / "local")
    assert serial.status == "met" and "fc3" in fp32_names(parallel.recipe)


def test_trials_run_two_at_a_time_each_worker_on_its_own_core(tmp_path):
    log = tmp_path / "evals.jsonl"
    tune(tmp_path / "ws", "exhaustive", LOCAL2, evaluate=Traced(log, sleep=0.1))
    evals = read_log(log)[1:]  # the first is the FP32 baseline, in the driver
    pids = {e["pid"] for e in evals}
    assert len(pids) == 2 and os.getpid() not in pids
    overlapping = sum(a["start"] < b["end"] and b["start"] < a["end"] for a, b in zip(evals, evals[1:]))
    assert overlapping >= len(evals) // 2
    if hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) >= 2:
        cores = {e["pid"]: tuple(e["cores"]) for e in evals}
        assert all(len(c) == 1 for c in cores.values())  # 2 cores / 2 workers
        assert len(set(cores.values())) == 2  # not the same one


def test_an_eval_func_workers_cannot_receive_is_a_clear_error(tmp_path):
    data = Accuracy()
    with pytest.raises(ConfigError) as info:
        tune(tmp_path, "basic", LOCAL2, evaluate=lambda model: data(model))
    message = str(info.value)
    assert "eval_func" in message and "<lambda>" in message and "module-level" in message
    assert "tuning.executor: serial" in message and "fallback_to_serial: true" in message


def test_fallback_to_serial_when_allowed(tmp_path, caplog):
    data = Accuracy()
    serial = tune(tmp_path / "serial", "mse")
    with caplog.at_level(logging.WARNING, logger="lpot"):
        result = tune(
            tmp_path / "ws",
            "mse",
            {"name": "local", "workers": 2, "fallback_to_serial": True},
            evaluate=lambda model: data(model),
        )
    assert "tuning serially instead of on the 'local' executor" in caplog.text
    assert [t.fingerprint for t in result.trials] == [t.fingerprint for t in serial.trials]


def test_an_eval_func_the_workers_cannot_import_is_a_clear_error(tmp_path):
    module = types.ModuleType("made_up_in_the_driver")  # importable here, nowhere else
    exec("class Score:\n    def __call__(self, model):\n        return 1.0\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        with pytest.raises(ConfigError, match="could not load the tuning job: .*made_up_in_the_driver"):
            tune(tmp_path, "basic", LOCAL2, evaluate=module.Score())
    finally:
        del sys.modules[module.__name__]


def test_a_worker_killed_mid_trial_is_replaced_and_its_trial_retried(tmp_path, caplog):
    serial = tune(tmp_path / "serial", "basic")
    log = tmp_path / "evals.jsonl"
    with caplog.at_level(logging.WARNING, logger="lpot"):
        parallel = tune(tmp_path / "local", "basic", LOCAL2, evaluate=Traced(log, die_once=True))
    assert Path(str(log) + ".died").exists()
    assert "died (exit code -9) running trial" in caplog.text
    assert_same_as_serial(serial, parallel, tmp_path / "local")
    assert all(t.status == "ok" for t in parallel.trials)


def test_a_trial_that_keeps_killing_its_worker_is_recorded_failed(tmp_path):
    log = tmp_path / "evals.jsonl"
    executor = {"name": "local", "workers": 2, "max_retries": 0}
    result = tune(tmp_path / "ws", "basic", executor, evaluate=Traced(log, die_once=True))
    failed = [t for t in result.trials if t.status == "failed"]
    assert len(failed) == 1 and "worker process died 1 times" in failed[0].error
    assert result.status == "met"
    rows = history(tmp_path / "ws")
    assert len({r["fingerprint"] for r in rows}) == len(rows)


@pytest.mark.parametrize("strategy", ("bayesian", "tpe"))
def test_model_based_strategies_propose_batches_deterministically(tmp_path, strategy):
    first = tune(tmp_path / "a", strategy, LOCAL2)
    second = tune(tmp_path / "b", strategy, LOCAL2)
    assert first.status == "met"
    assert [t.fingerprint for t in first.trials] == [t.fingerprint for t in second.trials]
    assert len({t.fingerprint for t in first.trials}) == len(first.trials)


def _finished(workspace: Path) -> int:
    try:
        return len(history(workspace))
    except Exception:
        return 0


def test_resume_of_a_parallel_run_after_the_driver_is_killed(tmp_path):
    workspace, log = tmp_path / "ws", tmp_path / "first.jsonl"
    driver = subprocess.Popen(
        [sys.executable, __file__, str(workspace), str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while _finished(workspace) < 6 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    before = history(workspace)
    workers = {e["pid"] for e in read_log(log)} - {driver.pid}
    deadline = time.monotonic() + 10  # orphaned workers see their pipe closed and exit
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)

    resumed_log = tmp_path / "resumed.jsonl"
    out = subprocess.run(
        [sys.executable, __file__, str(workspace), str(resumed_log), "--resume"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    after = history(workspace)
    assert {r["idx"]: r for r in before}.items() <= {r["idx"]: r for r in after}.items()  # kept as they were
    assert len({r["fingerprint"] for r in after}) == len(after)  # nothing twice
    assert [r["idx"] for r in after] == list(
        range(1, len(after) + 1)
    )  # lost in-flight trials redone in place
    assert len(read_log(resumed_log)) == len(after) - len(before)  # no baseline, no finished trial again
    serial = tune(tmp_path / "serial", "exhaustive")
    assert summary["recipe"] == serial.recipe.fingerprint() and summary["status"] == serial.status
    assert summary["best"] == serial.best_trial.index


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by init) is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


if __name__ == "__main__":
    workspace, log = Path(sys.argv[1]), Path(sys.argv[2])
    result = tune(
        workspace, "exhaustive", LOCAL2, evaluate=Traced(log, sleep=0.3), resume="--resume" in sys.argv
    )
    print(
        json.dumps(
            {"status": result.status, "recipe": result.recipe.fingerprint(), "best": result.best_trial.index}
        )
    )
