"""``tuning.exit_policy.timeout`` holds inside a trial: a hanging evaluation ends the run within a
few seconds of the budget, the trial recorded as timed out (and run again on resume)."""

from __future__ import annotations

import sqlite3
import time

import pytest
from slow_eval import HangsOnInt8

import lpot
from lpot.errors import EvaluationError


def _tune(tmp_path, eval_func, timeout: float, executor: str = "serial", resume: bool = False):
    from lpot_toy.known_answer import known_answer_model, loaders

    executor_config = {"name": "local", "workers": 2} if executor == "local" else {"name": "serial"}
    cfg = {
        "tuning": {
            "exit_policy": {"timeout": timeout, "max_trials": 20},
            "workspace": {"path": str(tmp_path / "ws")},
            "executor": executor_config,
        }
    }
    return lpot.tune(
        known_answer_model(4, ("fc3",)),
        loaders()[0],
        eval_func=eval_func,
        config=cfg,
        resume=resume,
        progress=False,
    )


def _rows(tmp_path):
    with sqlite3.connect(tmp_path / "ws" / "history.sqlite") as db:
        return db.execute("SELECT idx, status, error FROM trials ORDER BY idx").fetchall()


@pytest.mark.parametrize("busy", [False, True], ids=["sleeping", "spinning"])
def test_a_hanging_trial_ends_the_serial_run_at_the_timeout(tmp_path, busy):
    flag = tmp_path / "hang"
    flag.touch()
    t0 = time.monotonic()
    result = _tune(tmp_path, HangsOnInt8(flag, busy=busy), timeout=3)
    assert time.monotonic() - t0 < 8
    assert result.status == "budget_spent" and "timeout of 3s" in result.stop_reason, result.stop_reason
    ((index, status, error),) = _rows(tmp_path)
    assert (index, status) == (1, "timeout") and "tuning.exit_policy.timeout" in error
    assert [t.status for t in result.uncounted_trials] == ["timeout"] and result.trials == []

    flag.unlink()  # resumed with the budget given back, the timed-out trial runs again
    resumed = _tune(tmp_path, HangsOnInt8(flag, busy=busy), timeout=0, resume=True)
    assert resumed.met and resumed.trials[0].index == 1 and resumed.trials[0].status == "ok"


def test_a_hanging_trial_ends_the_local_run_at_the_timeout(tmp_path):
    flag = tmp_path / "hang"
    flag.touch()
    t0 = time.monotonic()
    result = _tune(tmp_path, HangsOnInt8(flag), timeout=8, executor="local")
    assert time.monotonic() - t0 < 16
    assert result.status == "budget_spent" and "timeout of 8s" in result.stop_reason, result.stop_reason
    rows = _rows(tmp_path)
    assert rows and all(status == "timeout" for _, status, _ in rows), rows


def test_a_hanging_fp32_baseline_is_an_error_at_the_timeout(tmp_path):
    flag = tmp_path / "hang"
    flag.touch()
    t0 = time.monotonic()
    with pytest.raises(EvaluationError, match=r"FP32 baseline .* tuning.exit_policy.timeout \(3s\)"):
        _tune(tmp_path, HangsOnInt8(flag, fp32_too=True), timeout=3)
    assert time.monotonic() - t0 < 8
