"""Resume is exact: a run killed (SIGKILL, once or twice, at seeded random points) and resumed ends
exactly where an uninterrupted run ends, for every strategy, serial and on the local executor.

"Exactly": the same trials in the same order (index, recipe, label, accuracy, met, status), the
same best trial, status and stop reason, and the same printed summary (wall time aside).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

JOB = Path(__file__).with_name("tune_job.py")
STRATEGIES = ("basic", "mse", "sensitivity", "random", "exhaustive", "bayesian", "tpe")
EXECUTORS = ("serial", "local")


def _committed(workspace: Path) -> int:
    try:
        with sqlite3.connect(f"file:{workspace / 'history.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.Error:
        return 0


def _command(workspace: Path, strategy: str, executor: str, out: Path, resume: bool) -> list[str]:
    return [sys.executable, str(JOB), str(workspace), strategy, executor, "--out", str(out)] + (
        ["--resume"] if resume else []
    )


def _run(workspace: Path, strategy: str, executor: str, resume: bool = False) -> dict:
    out = workspace.parent / f"{workspace.name}-result.json"
    subprocess.run(_command(workspace, strategy, executor, out, resume), check=True, timeout=600)
    return json.loads(out.read_text())


def _kill_after(
    workspace: Path, strategy: str, executor: str, commits: int, delay: float, resume: bool
) -> bool:
    """Start the job and SIGKILL it ``delay`` s after ``commits`` trials are committed; False when it
    finished first."""
    out = workspace.parent / "killed-result.json"
    proc = subprocess.Popen(_command(workspace, strategy, executor, out, resume))
    deadline = time.monotonic() + 600
    while _committed(workspace) < commits and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    os.killpg(proc.pid, signal.SIGKILL) if executor != "serial" and _own_group(proc) else proc.kill()
    proc.wait()
    return True


def _own_group(proc: subprocess.Popen) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_killed_and_resumed_equals_uninterrupted(tmp_path, strategy, executor):
    fresh = _run(tmp_path / "fresh", strategy, executor)
    n = len(fresh["trials"])
    assert n >= 3, fresh
    rng = random.Random(zlib.crc32(f"{strategy}/{executor}".encode()))
    points = sorted(rng.sample(range(1, n), k=min(2, n - 1)))
    workspace, kills = tmp_path / "killed", 0
    for i, commits in enumerate(points):
        kills += _kill_after(workspace, strategy, executor, commits, rng.uniform(0, 0.3), resume=i > 0)
    resumed = _run(workspace, strategy, executor, resume=True)
    assert kills >= 1, "the run ended before it could be killed"
    assert resumed["trials"] == fresh["trials"]
    assert (resumed["best"], resumed["status"], resumed["reason"], resumed["recipe"]) == (
        fresh["best"],
        fresh["status"],
        fresh["reason"],
        fresh["recipe"],
    )
    assert resumed["summary"] == fresh["summary"]
