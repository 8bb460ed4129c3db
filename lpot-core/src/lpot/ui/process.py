"""Runs are ``lpot tune`` / ``lpot benchmark`` subprocesses; this module starts, stops and watches them.

What the UI started is written down in the run's folder (``ui-run.json``: the inputs, the pid,
the exit code), so a restarted UI still sees a tune it launched, can stop it and can resume it,
and a tune outlives the UI that started it (its own session: Ctrl-C on ``lpot ui`` does not reach it).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lpot.errors import LpotError

RECORD = "ui-run.json"
CONFIG = "config.yaml"
OUTPUT = "tune.out"
BENCHMARKS = "ui-benchmarks.jsonl"
INTERRUPTED = 130  # what lpot returns after SIGINT


class RunStateError(LpotError, RuntimeError):
    """An action that the run's state does not allow (stop a finished run, start one twice)."""


@dataclass
class RunRecord:
    """What the UI launched in a run folder; file names are relative to the folder."""

    model: str | None = None
    data: str | None = None
    config: str = CONFIG
    parent: str | None = None
    pid: int | None = None
    argv: list[str] = field(default_factory=list)
    started_at: float | None = None
    exit_code: int | None = None

    @classmethod
    def read(cls, folder: Path) -> RunRecord | None:
        try:
            data = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known}) if isinstance(data, dict) else None

    def write(self, folder: Path) -> None:
        tmp = folder / (RECORD + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        tmp.replace(folder / RECORD)


def lpot_command(*args: str) -> list[str]:
    """``python -m lpot ARGS`` with this interpreter: the same lpot the UI runs."""
    return [sys.executable, "-m", "lpot", *args]


def tune_argv(folder: Path, record: RunRecord, *, resume: bool) -> list[str]:
    if record.model is None:
        raise RunStateError(f"run {folder.name!r} has no model yet: upload one before starting it")
    argv = lpot_command(
        "tune", str(folder / record.config), "--model", str(folder / record.model), "--workspace", str(folder)
    )
    if record.data:
        argv += ["--data", str(folder / record.data)]
    return [*argv, "--quiet", *(["--resume"] if resume else [])]


def pid_alive(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` is a live process whose command line contains ``marker`` (not a recycled pid)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no procfs: trust the pid
        return True
    try:
        text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except (OSError, IndexError):
        return False
    return marker in text and status != "Z"


class Launcher:
    """Starts and stops the subprocesses of runs and reaps them (exit codes go to ``ui-run.json``)."""

    def __init__(self) -> None:
        self.children: dict[Path, subprocess.Popen[bytes]] = {}
        self.benchmarks: dict[Path, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    def running(self, folder: Path, record: RunRecord | None) -> bool:
        self.reap()
        if folder in self.children:
            return True
        return record is not None and record.exit_code is None and pid_alive(record.pid, str(folder))

    def benchmarking(self, folder: Path) -> bool:
        process = self.benchmarks.get(folder)
        return process is not None and process.poll() is None

    def start(self, folder: Path, *, resume: bool = False) -> RunRecord:
        with self._lock:
            record = RunRecord.read(folder)
            if record is None:
                raise RunStateError(f"{folder.name!r} was not created by lpot ui: resume it with lpot tune")
            if self.running(folder, record):
                raise RunStateError(f"run {folder.name!r} is already running (pid {record.pid})")
            argv = tune_argv(folder, record, resume=resume)
            with (folder / OUTPUT).open("ab") as out:
                out.write(f"$ {' '.join(argv)}\n".encode())
                out.flush()
                process = subprocess.Popen(
                    argv,
                    cwd=folder,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            self.children[folder] = process
            record.pid, record.argv, record.started_at, record.exit_code = (
                process.pid,
                argv,
                time.time(),
                None,
            )
            record.write(folder)
            return record

    def stop(self, folder: Path) -> None:
        """SIGINT, as Ctrl-C in a terminal: lpot keeps the finished trials and says how to resume."""
        record = RunRecord.read(folder)
        if not self.running(folder, record) or record is None or record.pid is None:
            raise RunStateError(f"run {folder.name!r} is not running")
        os.kill(record.pid, signal.SIGINT)

    def reap(self) -> None:
        """Collect finished children and write their exit codes into their records."""
        for table in (self.children, self.benchmarks):
            for folder, process in list(table.items()):
                code = process.poll()
                if code is None:
                    continue
                del table[folder]
                if table is self.children:
                    record = RunRecord.read(folder) or RunRecord()
                    record.exit_code = INTERRUPTED if code == -signal.SIGINT else code
                    record.write(folder)

    def benchmark(self, folder: Path, argv: list[str], settings: dict[str, Any]) -> None:
        """Run ``lpot benchmark ... --format json`` and append its result to ``ui-benchmarks.jsonl``."""
        with self._lock:
            if self.benchmarking(folder):
                raise RunStateError(f"a benchmark of {folder.name!r} is already running")
            process = subprocess.Popen(
                argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            self.benchmarks[folder] = process
        threading.Thread(target=_store_benchmark, args=(folder, process, settings), daemon=True).start()

    def close(self) -> None:
        """Stop the benchmarks (short-lived helpers); tunes go on, in their own sessions."""
        for process in self.benchmarks.values():
            if process.poll() is None:
                process.terminate()


def _store_benchmark(folder: Path, process: subprocess.Popen[bytes], settings: dict[str, Any]) -> None:
    out, err = process.communicate()
    entry: dict[str, Any] = {"time": time.time(), "settings": settings, "exit_code": process.returncode}
    try:
        entry["result"] = json.loads(out.decode()) if process.returncode == 0 else None
    except ValueError:
        entry["result"] = None
    if entry["result"] is None:
        lines = err.decode(errors="replace").strip().splitlines()
        entry["error"] = lines[-1] if lines else f"lpot benchmark exited with {process.returncode}"
    with (folder / BENCHMARKS).open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file (a line being written right now is skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def read_benchmarks(folder: Path) -> list[dict[str, Any]]:
    """The stored benchmarks of a run, newest first."""
    return read_jsonl(folder / BENCHMARKS)[::-1]
