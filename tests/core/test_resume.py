"""History and resume: a run killed with SIGKILL keeps every finished trial and redoes none."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lpot
import toy_job
from lpot.errors import ResumeError
from lpot.tuning.history import History

JOB = Path(toy_job.__file__)


def _finished(workspace: Path) -> int:
    db = workspace / "history.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_mid_run_then_resume_keeps_and_skips_finished_trials(tmp_path):
    workspace = tmp_path / "ws"
    calls = tmp_path / "calls.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(JOB), str(workspace), "--sleep", "0.3", "--calls", str(calls)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while _finished(workspace) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with History(workspace / "history.sqlite") as history:
        before = history.trials()
        assert history.baseline() is not None
    assert len(before) >= 3

    first_calls = calls.read_text().splitlines()
    out = subprocess.run(
        [sys.executable, str(JOB), str(workspace), "--resume", "--calls", str(calls)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    with History(workspace / "history.sqlite") as history:
        after = history.trials()
    # every finished trial is kept unchanged, in order
    assert [t.to_row() for t in after[: len(before)]] == [t.to_row() for t in before]
    # the resumed run evaluated only new trials: no baseline, no finished trial again
    resumed_calls = calls.read_text().splitlines()[len(first_calls) :]
    assert summary["calls"] == len(resumed_calls) == len(after) - len(before)
    assert summary["status"] == "met"
    # and it proposed exactly what an uninterrupted run proposes
    fresh = subprocess.run(
        [sys.executable, str(JOB), str(tmp_path / "fresh")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(fresh.stdout.strip().splitlines()[-1])["trials"] == summary["trials"] == len(after)
    with History(tmp_path / "fresh" / "history.sqlite") as history:
        assert [t.recipe for t in history.trials()] == [t.recipe for t in after]


def test_resume_refuses_a_changed_config(tmp_path, toy_model, toy_loaders):
    evaluate = toy_job.PenalizingEval(("fc2",))
    lpot.tune(
        toy_model,
        q_dataloader=toy_loaders[0],
        eval_func=evaluate,
        config=toy_job.config(tmp_path),
        progress=False,
    )
    changed = toy_job.config(tmp_path, accuracy_criterion={"relative": 0.05})
    with pytest.raises(ResumeError, match="configuration changed"):
        lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=evaluate, config=changed, resume=True)


def test_resume_refuses_a_changed_model(tmp_path, toy_model, toy_loaders):
    evaluate = toy_job.PenalizingEval()
    lpot.tune(
        toy_model,
        q_dataloader=toy_loaders[0],
        eval_func=evaluate,
        config=toy_job.config(tmp_path),
        progress=False,
    )
    with pytest.raises(ResumeError, match="model changed"):
        lpot.tune(
            toy_job.make_model(seed=5),
            q_dataloader=toy_loaders[0],
            eval_func=evaluate,
            config=toy_job.config(tmp_path),
            resume=True,
        )


def test_resume_of_a_finished_run_evaluates_nothing(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path)
    first = lpot.tune(
        toy_model,
        q_dataloader=toy_loaders[0],
        eval_func=toy_job.PenalizingEval(("fc3",)),
        config=cfg,
        progress=False,
    )
    evaluate = toy_job.PenalizingEval(("fc3",))
    again = lpot.tune(
        toy_model, q_dataloader=toy_loaders[0], eval_func=evaluate, config=cfg, resume=True, progress=False
    )
    assert evaluate.calls == 0
    assert again.new_calibration_passes == 0  # statistics come from the workspace
    assert again.calibration_passes == first.calibration_passes  # the run's total, as the summary says
    assert again.recipe == first.recipe and again.accuracy == first.accuracy
    assert all(t.replayed for t in again.trials)


def test_a_fresh_run_keeps_the_previous_history_aside(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path)
    for _ in range(2):
        lpot.tune(
            toy_model,
            q_dataloader=toy_loaders[0],
            eval_func=toy_job.PenalizingEval(),
            config=cfg,
            progress=False,
        )
    (previous,) = (tmp_path / "previous").iterdir()  # the first run, whole: history and artifacts
    assert (previous / "history.sqlite").exists() and (previous / "best_model" / "recipe.json").exists()
    assert (tmp_path / "history.sqlite").exists() and (tmp_path / "calibration").is_dir()


def test_nothing_to_resume(tmp_path, toy_model, toy_loaders):
    with pytest.raises(ResumeError, match="nothing to resume"):
        lpot.tune(
            toy_model,
            q_dataloader=toy_loaders[0],
            eval_func=toy_job.PenalizingEval(),
            config=toy_job.config(tmp_path / "none"),
            resume=True,
        )


def test_the_run_log_has_one_json_line_per_event(tmp_path, toy_model, toy_loaders):
    result = lpot.tune(
        toy_model,
        q_dataloader=toy_loaders[0],
        eval_func=toy_job.PenalizingEval(("fc2",)),
        config=toy_job.config(tmp_path),
        progress=False,
    )
    lines = [json.loads(line) for line in (tmp_path / "run.log.jsonl").read_text().splitlines()]
    events = [entry["event"] for entry in lines if "event" in entry]
    assert events[:3] == ["run started", "baseline", "calibrated"]
    assert events.count("trial") == len(result.trials) and events[-1] == "run finished"
    assert lines[-1]["status"] == "met" and lines[-1]["calibration_passes"] == result.calibration_passes
