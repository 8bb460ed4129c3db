"""Find the workspaces under the served folders and read what each shows, from the files lpot writes.

A workspace is a folder with a ``history.sqlite`` (any ``lpot tune``) or a ``ui-run.json`` (a run
started here, perhaps not yet past its first trial). Everything is read through lpot's own readers
(:func:`lpot.report.data.load_report`) and the run log; nothing is cached between polls but a
cheap signature of the files, so what the page shows is what is on disk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpot.errors import LpotError
from lpot.events import FILENAME as RUNLOG
from lpot.report.data import ReportData, load_report
from lpot.tuning.history import FILENAME as HISTORY
from lpot.ui.paths import Roots
from lpot.ui.process import (
    BENCHMARKS,
    INTERRUPTED,
    OUTPUT,
    RECORD,
    Launcher,
    RunRecord,
    read_benchmarks,
    read_jsonl,
)

MAX_DEPTH = 4
SKIP = {"best_model", "calibration", "tensorboard", "__pycache__", "node_modules"}
FINISHED = ("met", "budget_spent", "exhausted")


def is_workspace(folder: Path) -> bool:
    return (folder / HISTORY).is_file() or (folder / RECORD).is_file()


def scan(roots: Roots) -> list[Path]:
    """Every workspace under the roots, also inside another (depth-limited; hidden folders, a
    workspace's own subfolders and symlinks are not followed)."""
    found: list[Path] = []
    for root in roots.paths:
        found.extend(_walk(root, 0))
    return sorted(set(found))


def _walk(folder: Path, depth: int) -> Iterator[Path]:
    if is_workspace(folder):
        yield folder
    if depth >= MAX_DEPTH:
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith(".") or entry.name in SKIP:
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path), depth + 1)


def signature(folder: Path) -> tuple[Any, ...]:
    """Changes whenever a trial is committed, the log grows or the UI's records change."""
    out: list[Any] = []
    for name in (HISTORY, RUNLOG, RECORD, BENCHMARKS, OUTPUT):
        try:
            st = (folder / name).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


@dataclass
class RunView:
    """One run as the pages show it."""

    id: str
    name: str
    path: Path
    status: str
    detail: str
    record: RunRecord | None
    report: ReportData | None
    events: list[dict[str, Any]] = field(default_factory=list)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    benchmarking: bool = False

    @property
    def meta(self) -> dict[str, Any]:
        return self.report.meta if self.report else {}

    @property
    def running(self) -> bool:
        return self.status in ("starting", "running")

    @property
    def max_trials(self) -> int | None:
        started = [e for e in self.events if e.get("event") == "run started"]
        return started[-1].get("max_trials") if started else None

    @property
    def trials(self) -> int:
        return len(self.report.trials) if self.report else 0

    @property
    def phase(self) -> str:
        """What the run did last, from the run log (``calibrated``, ``trial``, ...)."""
        return str(self.events[-1].get("event", "")) if self.events else ""

    @property
    def ratio(self) -> float | None:
        """FP32 objective / best objective, oriented so that > 1 is better."""
        report = self.report
        best = report.best if report else None
        if report is None or best is None or not best.objective or not report.baseline_objective:
            return None
        base, tuned = report.baseline_objective, best.objective
        return tuned / base if self.meta.get("objective") == "throughput" else base / tuned

    @property
    def resumable(self) -> bool:
        return self.record is not None and self.status in ("stopped", "unfinished", "failed")


def read_events(folder: Path) -> list[dict[str, Any]]:
    return read_jsonl(folder / RUNLOG)


def load_run(roots: Roots, folder: Path, launcher: Launcher) -> RunView:
    record = RunRecord.read(folder)
    report, problem = None, ""
    if (folder / HISTORY).is_file():
        try:
            report = load_report(folder)
        except (LpotError, sqlite3.Error, ValueError, KeyError) as exc:
            problem = f"unreadable history: {exc}"
    running = launcher.running(folder, record)
    status, detail = _status(report, record, running, folder)
    run_id = roots.run_id(folder)
    return RunView(
        id=run_id,
        name=run_id.partition("/")[2] or folder.name,
        path=folder,
        status=status,
        detail=problem or detail,
        record=record,
        report=report,
        events=read_events(folder),
        benchmarks=read_benchmarks(folder),
        benchmarking=launcher.benchmarking(folder),
    )


def _status(
    report: ReportData | None, record: RunRecord | None, running: bool, folder: Path
) -> tuple[str, str]:
    meta = report.meta if report else {}
    if running:
        return ("running", "") if meta.get("status") == "running" else ("starting", "loading, calibrating")
    if meta.get("status") in FINISHED:
        return str(meta["status"]), str(meta.get("stop_reason") or "")
    if record is not None and record.pid is None:
        return "draft", "not started"
    code = record.exit_code if record else None
    if code == INTERRUPTED:
        return "stopped", "interrupted; finished trials are saved, resume to continue"
    if code not in (None, 0):
        return "failed", last_error(folder) or f"lpot tune exited with {code}"
    if not meta:
        return "unfinished", "no trial recorded"
    return "unfinished", "running elsewhere, or interrupted"


def last_error(folder: Path) -> str:
    """The ``lpot: error: ...`` line (or the last line) of the run's output."""
    try:
        lines = (folder / OUTPUT).read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    errors = [line for line in lines if line.startswith("lpot: error:")]
    return (errors or lines or [""])[-1]


def tail(folder: Path, lines: int = 30) -> str:
    try:
        text = (folder / OUTPUT).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def tuned_model(folder: Path) -> Path | None:
    """The tuned model in ``best_model/`` (the one entry that is not the recipe or the summary)."""
    best = folder / "best_model"
    if not best.is_dir():
        return None
    models = [p for p in best.iterdir() if p.name not in ("recipe.json", "summary.json")]
    return models[0] if len(models) == 1 else None


def download_files(folder: Path) -> list[Path]:
    best = folder / "best_model"
    if not best.is_dir():
        return []
    return sorted(p for p in best.iterdir() if p.is_file() and not p.is_symlink())
