"""Faults of the workspace, the disk and the history: each one precise error (CLI: one line, exit 2)
or the exact recovered state, and nothing left behind that a later run misreads.

Full disks are simulated two ways (see ``faults.py``): ``RLIMIT_FSIZE`` (EFBIG, everywhere) and a
real small tmpfs in a private namespace (ENOSPC, where the kernel allows it). Kills land at exact
points of an atomic write: ``fault_job.py`` SIGKILLs the process at the N-th fsync / rename /
removal touching ``best_model``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from disk_driver import history, snapshot
from faults import (
    UNWRITABLE,
    disk_modes,
    full_disk_words,
    job_argv,
    namespaces_work,
    one_line_error,
    run_steps,
    toy_files,
    tune_args,
)
from faults import (
    lpot as run_lpot,
)

import lpot
from lpot.errors import ResumeError, WorkspaceError

FAULT_METRIC = '{"fault_metric:Top1": {}}'


def _reference(tmp_path: Path) -> list[list]:
    """The trials (index, recipe fingerprint, status) of the uninterrupted run."""
    ref = toy_files(tmp_path / "ref", metric=FAULT_METRIC)
    done = subprocess.run(job_argv(*tune_args(ref)), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return history(ref["workspace"] / "history.sqlite")["trials"]


def _temporaries(state: dict) -> list[str]:
    return [f for f in state["files"] if Path(f).name.startswith((".tmp-", ".old-"))]


# full disks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", disk_modes())
def test_full_disk_during_a_trial_commit_keeps_every_committed_trial(tmp_path, mode):
    expected = _reference(tmp_path)
    disk = tmp_path / "disk"
    files = toy_files(tmp_path / "files", workspace=disk / "ws", metric=FAULT_METRIC)
    history_file = disk / "ws" / "history.sqlite"
    full = f"fsize:{history_file}" if mode == "fsize" else f"fill:{disk / 'filler'}"
    steps = [
        {"argv": job_argv(*tune_args(files)), "env": {"LPOT_FAULT_FULL_AT": "3", "LPOT_FAULT_FULL": full}}
    ]
    if mode == "tmpfs":
        steps.append({"rm": str(disk / "filler")})
    steps.append({"argv": job_argv(*tune_args(files, "--resume"))})
    first, *_, resumed = run_steps(disk, steps, mode=mode, size_kb=1024)

    line = one_line_error(first, full_disk_words(mode), str(history_file), "--resume")
    assert "not a readable" not in line
    kept = first["state"]["histories"]["ws/history.sqlite"]["trials"]
    assert 1 <= len(kept) < len(expected) and kept == expected[: len(kept)]  # every committed trial
    assert resumed["rc"] == 0, resumed["stderr"]
    assert resumed["state"]["histories"]["ws/history.sqlite"]["trials"] == expected  # as if uninterrupted
    assert not _temporaries(resumed["state"])


def _big_run_on_a_small_disk(tmp_path: Path, mode: str, *extra: str) -> tuple[Path, dict, list[dict]]:
    """A run whose saved model (~330 KB) does not fit: a 256 KB tmpfs, or a 200 KB file size limit."""
    disk = tmp_path / "disk"
    files = toy_files(tmp_path / "files", workspace=disk / "ws", big=True, relative=0.5)
    env = {"LPOT_FAULT_FSIZE": "200000"} if mode == "fsize" else {}
    return disk, files, [{"argv": job_argv(*tune_args(files, *extra)), "env": env}]


@pytest.mark.parametrize("mode", disk_modes())
def test_full_disk_during_save_is_a_warning_and_resume_saves(tmp_path, mode):
    disk, files, steps = _big_run_on_a_small_disk(tmp_path, mode)
    if mode == "tmpfs":
        steps.append({"sh": f"mount -o remount,size=8192k {disk}"})
    steps.append({"argv": job_argv(*tune_args(files, "--resume"))})
    first, *_, resumed = run_steps(disk, steps, mode=mode, size_kb=256)

    assert first["rc"] == 0, first["stderr"]
    assert "could not save best_model" in first["stdout"] and full_disk_words(mode) in first["stdout"]
    state = first["state"]
    assert not [f for f in state["files"] if "best_model" in f], state["files"]  # nothing half-written
    assert state["histories"]["ws/history.sqlite"]["status"] == "met"
    assert resumed["rc"] == 0, resumed["stderr"]
    saved = sorted(f for f in resumed["state"]["files"] if f.startswith("ws/best_model/"))
    assert saved == ["ws/best_model/model.mlp.npz", "ws/best_model/recipe.json", "ws/best_model/summary.json"]
    assert not _temporaries(resumed["state"])


@pytest.mark.parametrize("mode", disk_modes())
def test_full_disk_during_output_save_is_one_line_and_leaves_nothing(tmp_path, mode):
    disk = tmp_path / "disk"
    disk, _, steps = _big_run_on_a_small_disk(tmp_path, mode, "--output", str(disk / "out"))
    (first,) = run_steps(disk, steps, mode=mode, size_kb=256)

    one_line_error(first, full_disk_words(mode), str(disk / "out"))
    assert not [f for f in first["state"]["files"] if "out" in Path(f).parts[0]], first["state"]["files"]


@pytest.mark.parametrize("mode", disk_modes())
def test_full_disk_when_the_run_starts_leaves_no_history_to_misread(tmp_path, mode):
    disk = tmp_path / "disk"
    files = toy_files(tmp_path / "files", workspace=disk / "ws")
    if mode == "fsize":
        steps = [{"argv": job_argv(*tune_args(files)), "env": {"LPOT_FAULT_FSIZE": "0"}}]
    else:
        steps = [{"sh": f"mkdir -p {disk / 'ws'}; cat /dev/zero > {disk / 'filler'} 2>/dev/null"}]
        steps.append({"argv": job_argv(*tune_args(files))})
    steps.append({"argv": job_argv(*tune_args(files, "--resume"))})
    if mode == "tmpfs":
        steps.append({"rm": str(disk / "filler")})
    steps.append({"argv": job_argv(*tune_args(files))})
    report = run_steps(disk, steps, mode=mode, size_kb=512)
    first = report[0] if mode == "fsize" else report[1]
    resume, fresh = report[-3 if mode == "tmpfs" else -2], report[-1]

    line = one_line_error(first, full_disk_words(mode))
    assert "not a readable" not in line
    assert "ws/history.sqlite" not in first["state"]["files"]  # no empty history left to resume
    assert "empty" not in one_line_error(resume)  # full disk, or nothing to resume: never an empty history
    assert fresh["rc"] == 0, fresh["stderr"]


# kills at exact points of the atomic save --------------------------------------------------------
def _save_calls(tmp_path: Path, resume: bool) -> tuple[dict, list[str]]:
    files = toy_files(tmp_path / "count")
    if resume:
        assert subprocess.run(job_argv(*tune_args(files)), capture_output=True, timeout=300).returncode == 0
    count = tmp_path / "calls.json"
    argv = job_argv(*tune_args(files, *(["--resume"] if resume else [])))
    done = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "LPOT_FAULT_COUNT": str(count)}
    )
    assert done.returncode == 0, done.stderr
    return files, json.loads(count.read_text())


def _complete(best: Path) -> bool:
    names = sorted(p.name for p in best.iterdir())
    assert names == ["model.mlp.npz", "recipe.json", "summary.json"], names
    json.loads((best / "recipe.json").read_text())
    return json.loads((best / "summary.json").read_text())["status"] == "met"


@pytest.mark.parametrize("resume", [False, True], ids=["fresh-run", "resumed-finished-run"])
def test_a_kill_at_any_point_of_the_save_leaves_the_old_or_the_new_best_model(tmp_path, resume):
    _, calls = _save_calls(tmp_path, resume)
    assert len(calls) >= 4, calls
    for n in range(1, len(calls) + 1):
        files = toy_files(tmp_path / f"kill{n}")
        best = files["workspace"] / "best_model"
        if resume:
            assert (
                subprocess.run(job_argv(*tune_args(files)), capture_output=True, timeout=300).returncode == 0
            )
        argv = job_argv(*tune_args(files, *(["--resume"] if resume else [])))
        killed = subprocess.run(
            argv, capture_output=True, text=True, env={**os.environ, "LPOT_FAULT_KILL": str(n)}
        )
        assert killed.returncode == -signal.SIGKILL, (n, calls[n - 1], killed.stderr)
        if resume:  # a model was there: a reader sees it whole, old or new, at every moment
            assert _complete(best), (n, calls[n - 1])
        else:
            assert not best.exists() or _complete(best), (n, calls[n - 1])
        again = subprocess.run(
            job_argv(*tune_args(files, "--resume")), capture_output=True, text=True, timeout=300
        )
        assert again.returncode == 0, (n, again.stderr)
        assert _complete(best)
        assert history(files["workspace"] / "history.sqlite")["status"] == "met"
        assert not _temporaries(snapshot(files["workspace"])), (n, calls[n - 1])


# the workspace path -------------------------------------------------------------------------------
def _cli_workspace(tmp_path: Path, workspace: str):
    files = toy_files(tmp_path / "files")
    return run_lpot(*tune_args(files, "--workspace", workspace))


def test_workspace_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    one_line_error(_cli_workspace(tmp_path, str(tmp_path / "file")), str(tmp_path / "file"), "is a file")


def test_workspace_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    where = tmp_path / "file" / "ws"
    one_line_error(_cli_workspace(tmp_path, str(where)), f"{tmp_path / 'file'} is a file", str(where))


def test_workspace_root_cannot_write(tmp_path):
    one_line_error(_cli_workspace(tmp_path, str(UNWRITABLE)), str(UNWRITABLE), "cannot create")


@pytest.mark.skipif(not namespaces_work(), reason="no unprivileged user+mount namespaces here")
def test_workspace_on_a_read_only_filesystem(tmp_path):
    files = toy_files(tmp_path / "files")
    ro = tmp_path / "ro"
    (first,) = run_steps(
        ro,
        [{"argv": job_argv(*tune_args(files, "--workspace", str(ro / "ws")))}],
        mode="tmpfs",
        readonly=True,
    )
    one_line_error(first, str(ro / "ws"), "read-only file system")


def test_workspace_name_too_long(tmp_path):
    where = str(tmp_path / ("w" * 300))
    one_line_error(_cli_workspace(tmp_path, where), "too long")


def test_workspace_path_with_nul(tmp_path):
    files = toy_files(tmp_path / "files")
    conf = files["config"].read_text().replace(json.dumps(str(files["workspace"])), '"ws\\0evil"')
    files["config"].write_text(conf)
    one_line_error(run_lpot(*tune_args(files)), "NUL")
    from lpot_toy.known_answer import Accuracy, known_answer_model, loaders

    with pytest.raises(WorkspaceError, match="NUL"):
        lpot.tune(
            known_answer_model(4, ("fc3",)),
            loaders()[0],
            eval_func=Accuracy(),
            config={"tuning": {"workspace": {"path": "a\0b"}}},
            progress=False,
        )


# a damaged history ------------------------------------------------------------------------------
@pytest.fixture
def finished(tmp_path):
    files = toy_files(tmp_path / "files")
    done = run_lpot(*tune_args(files))
    assert done.returncode == 0, done.stderr
    return files


def _damage(files, sql: str) -> None:
    with sqlite3.connect(files["workspace"] / "history.sqlite") as db:
        db.executescript(sql)


def _resume_and_report(files, *fragments: str) -> None:
    one_line_error(run_lpot(*tune_args(files, "--resume")), *fragments)
    one_line_error(run_lpot("report", str(files["workspace"]), "--format", "md"), *fragments)


def test_a_corrupted_history_page(finished):
    path = finished["workspace"] / "history.sqlite"
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(4096)
        fh.write(os.urandom(min(8192, size - 4096)))
    _resume_and_report(finished, str(path), "damaged")
    assert run_lpot(*tune_args(finished)).returncode == 0  # a fresh run moves it aside


def test_every_page_of_a_history_damaged_in_turn_is_a_precise_error(finished, tmp_path):
    """Whichever page is hit, resuming gives one ResumeError (never a raw sqlite3 error)."""
    import numpy as np

    from lpot_toy.engine import ToyEngine

    source = (finished["workspace"] / "history.sqlite").read_bytes()
    with np.load(finished["data"]) as data:  # the data as the CLI read it (batches of 32)
        loader = lpot.ArrayLoader(data["x"], data["y"], batch_size=32)
    model = ToyEngine().read(finished["model"])
    config = lpot.load_config(str(finished["config"]))
    for page in range(1, len(source) // 4096):
        ws = tmp_path / f"page{page}"
        ws.mkdir()
        damaged = bytearray(source)
        damaged[page * 4096 : (page + 1) * 4096] = random.Random(page).randbytes(4096)
        (ws / "history.sqlite").write_bytes(bytes(damaged))
        try:
            lpot.tune(model, loader, eval_dataloader=loader, config=config, resume=str(ws), progress=False)
        except ResumeError as exc:
            assert str(ws / "history.sqlite") in str(exc), exc
        except lpot.LpotError as exc:  # pragma: no cover - shown with the page that caused it
            pytest.fail(f"page {page}: {type(exc).__name__}: {exc}")


def test_bad_json_in_a_history_row(finished):
    _damage(finished, "UPDATE trials SET recipe = '{not json' WHERE idx = 1")
    _resume_and_report(finished, "trial 1", "recipe", "damaged")


def test_bad_json_in_the_run_metadata(finished):
    _damage(finished, "UPDATE run SET value = '{not json' WHERE key = 'status'")
    _resume_and_report(finished, "run metadata", "'status'", "damaged")


def test_wrong_history_columns(finished):
    _damage(finished, "ALTER TABLE trials RENAME COLUMN recipe TO recipe_v0")
    _resume_and_report(finished, "table trials", "'recipe'")


def test_history_without_run_metadata(finished):
    _damage(finished, "DELETE FROM run")
    one_line_error(run_lpot(*tune_args(finished, "--resume")), "no run metadata")


def test_an_empty_history_file_is_not_resumed(finished):
    (finished["workspace"] / "history.sqlite").write_bytes(b"")
    one_line_error(run_lpot(*tune_args(finished, "--resume")), "empty")


# one run per workspace ---------------------------------------------------------------------------
def test_a_second_run_is_refused_and_a_killed_runs_lock_never_blocks(tmp_path):
    files = toy_files(tmp_path / "files", metric=FAULT_METRIC)
    env = {**os.environ, "LPOT_FAULT_HANG_AT": "2"}  # the first trial's evaluation hangs
    first = subprocess.Popen(job_argv(*tune_args(files)), env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and history_has_baseline(files["workspace"]) is False:
            time.sleep(0.1)
        busy = f"pid {first.pid} on host {socket.gethostname()}"
        for extra in ((), ("--resume",)):
            second = subprocess.run(
                job_argv(*tune_args(files, *extra)), capture_output=True, text=True, timeout=120
            )
            one_line_error(second, "in use by another lpot run", busy)
    finally:
        first.kill()
        first.wait()
    done = subprocess.run(
        job_argv(*tune_args(files, "--resume")), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert history(files["workspace"] / "history.sqlite")["status"] == "met"


def history_has_baseline(workspace: Path) -> bool:
    try:
        with sqlite3.connect(f"file:{workspace / 'history.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM baseline").fetchone()[0] == 1
    except sqlite3.Error:
        return False


# signals (§7) and --output over the input model (§2) ----------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_like_ctrl_c_and_resume(tmp_path, signum):
    files = toy_files(tmp_path / "files", metric=FAULT_METRIC)
    env = {**os.environ, "LPOT_FAULT_HANG_AT": "3"}  # the second trial's evaluation hangs
    run = subprocess.Popen(job_argv(*tune_args(files)), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_committed(files["workspace"])) < 1:
        time.sleep(0.05)
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signum, stderr
    assert stderr.strip() == (
        f"lpot: stopped by {signal.Signals(signum).name}; finished trials are saved in the history, "
        "continue with --resume"
    )
    assert len(_committed(files["workspace"])) == 1
    done = subprocess.run(
        job_argv(*tune_args(files, "--resume")), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and history(files["workspace"] / "history.sqlite")["status"] == "met"


def _committed(workspace: Path) -> list:
    try:
        with sqlite3.connect(f"file:{workspace / 'history.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT idx FROM trials").fetchall()
    except sqlite3.Error:
        return []


@pytest.mark.parametrize("where", ["same-folder", "parent-folder"])
def test_output_over_the_input_models_folder_is_refused(tmp_path, where):
    files = toy_files(tmp_path / "files")
    output = files["model"].parent if where == "same-folder" else files["model"].parent.parent
    before = files["model"].read_bytes()
    one_line_error(
        run_lpot(*tune_args(files, "--output", str(output))), str(output), str(files["model"]), "replace it"
    )
    assert files["model"].read_bytes() == before
