"""The tuning history: one SQLite file per workspace, committed after every trial.

A run killed at any point (even SIGKILL) leaves every finished trial on disk; ``resume`` reads them
back. Only JSON and numbers are stored, never pickles, so a history file from anyone is safe to open.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lpot.errors import ResumeError, WorkspaceError
from lpot.trial import Trial

SCHEMA_VERSION = 2
FILENAME = "history.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS baseline (
    id INTEGER PRIMARY KEY CHECK (id = 1), accuracy REAL NOT NULL, objective REAL, evaluate_s REAL
);
CREATE TABLE IF NOT EXISTS trials (
    idx INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, label TEXT NOT NULL, recipe TEXT NOT NULL,
    accuracy REAL, met INTEGER NOT NULL, objective REAL, status TEXT NOT NULL, error TEXT,
    quantize_s REAL, evaluate_s REAL, finished_at REAL, details TEXT
);
"""


class History:
    """Read and append the history of one workspace."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        try:
            if create:
                self._db = sqlite3.connect(self.path)
            else:  # reports read without ever writing (or creating) a file
                self._db = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
            self._db.row_factory = sqlite3.Row
            if create:
                with self._writing("creating"):
                    self._db.executescript(_SCHEMA)
            else:
                self._db.execute("SELECT count(*) FROM trials").fetchone()
        except sqlite3.DatabaseError as exc:
            if _disk_full(exc):
                raise WorkspaceError(
                    f"disk full while creating {self.path}: free some space, then run again"
                ) from None
            raise ResumeError(
                f"{self.path} is not a readable lpot history ({exc}): it is damaged or not lpot's; move "
                "it away to start a fresh run there"
            ) from None

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """One transaction; a full disk or a vanished file is a WorkspaceError saying so (SQLite
        rolls the transaction back, so the history keeps every trial committed before)."""
        try:
            with self._db:
                yield
        except sqlite3.OperationalError as exc:
            if _disk_full(exc):
                raise WorkspaceError(
                    f"disk full while {what} in {self.path}: every trial committed before is kept; "
                    "free some space, then continue with --resume"
                ) from None
            raise WorkspaceError(f"cannot write {self.path} while {what}: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # run metadata -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        try:
            return {r["key"]: json.loads(r["value"]) for r in self._db.execute("SELECT key, value FROM run")}
        except (sqlite3.DatabaseError, ValueError) as exc:
            raise ResumeError(
                f"{self.path}: the run metadata is damaged ({exc}); move the history away"
            ) from None

    def write_metadata(self, values: Mapping[str, Any]) -> None:
        with self._writing("writing the run metadata"):
            self._db.executemany(
                "INSERT OR REPLACE INTO run (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
            )

    def check_same_run(self, config_hash: str, model_fingerprint: str, data: Mapping[str, Any]) -> None:
        """Refuse to resume a workspace that belongs to a different config, model or data."""
        meta = self.metadata()
        where = self.path.parent
        if meta.get("config_hash") != config_hash:
            raise ResumeError(
                f"cannot resume {where}: the configuration changed since that run "
                f"(config hash {str(meta.get('config_hash', '?'))[:12]} there, {config_hash[:12]} now). "
                "Restore the original config, or start a new run in another workspace."
            )
        if meta.get("model_fingerprint") != model_fingerprint:
            raise ResumeError(
                f"cannot resume {where}: the model changed since that run "
                f"(fingerprint {str(meta.get('model_fingerprint', '?'))[:12]} there, {model_fingerprint[:12]} now). "
                "Use the original model, or start a new run in another workspace."
            )
        recorded = meta.get("data") or {}
        for kind, value in data.items():
            if recorded.get(kind) != value:
                raise ResumeError(
                    f"cannot resume {where}: the {kind} data changed since that run ({recorded.get(kind)} "
                    f"there, {value} now: samples:hash). Use the original data, or start a new run."
                )

    # baseline -----------------------------------------------------------------------------
    def baseline(self) -> tuple[float, float | None] | None:
        row = self._db.execute("SELECT accuracy, objective FROM baseline WHERE id = 1").fetchone()
        return None if row is None else (float(row["accuracy"]), row["objective"])

    def write_baseline(self, accuracy: float, objective: float | None, evaluate_s: float) -> None:
        with self._writing("committing the FP32 baseline"):
            self._db.execute(
                "INSERT OR REPLACE INTO baseline (id, accuracy, objective, evaluate_s) VALUES (1, ?, ?, ?)",
                (accuracy, objective, evaluate_s),
            )

    # trials -------------------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        try:
            rows = self._db.execute("SELECT * FROM trials ORDER BY idx").fetchall()
            return [Trial.from_row(dict(r)) for r in rows]
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError) as exc:
            raise ResumeError(
                f"{self.path}: a trial row is damaged ({type(exc).__name__}: {exc}); move the history away"
            ) from None

    def append(self, trial: Trial) -> None:
        """Commit one finished trial now, so a crash right after loses nothing."""
        import time

        row = trial.to_row()
        row["finished_at"] = time.time()
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._writing(f"committing trial {trial.index}"):
            self._db.execute(f"INSERT OR REPLACE INTO trials ({cols}) VALUES ({marks})", tuple(row.values()))


def open_history(workspace: Path, *, resume: bool) -> History:
    """The history of ``workspace`` (a fresh run finds none: the previous run was moved aside).

    Resuming needs a history that says which run it was (config, model, data): an empty file, or one
    whose run table is empty (a crash before the first commit, a full disk), is refused.
    """
    path = Path(workspace) / FILENAME
    if resume and not path.exists():
        raise ResumeError(f"nothing to resume: {path} does not exist (run without resume to start)")
    if resume and path.stat().st_size == 0:
        raise ResumeError(
            f"cannot resume {path}: the file is empty (a run that died before its first commit); start a fresh run"
        )
    history = History(path)
    if resume:
        meta = history.metadata()
        if not meta.get("config_hash") or not meta.get("model_fingerprint"):
            history.close()
            raise ResumeError(
                f"cannot resume {path}: it holds no run metadata (which config, model and data), so its "
                "trials cannot be checked against this run; start a fresh run"
            )
        if meta.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            history.close()
            raise ResumeError(f"{path} was written by an incompatible lpot (schema {meta['schema_version']})")
    return history


def _disk_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "disk is full" in text or "disk full" in text or getattr(exc, "sqlite_errorcode", None) == 13


def read_workspace(
    workspace: str | Path,
) -> tuple[dict[str, Any], tuple[float, float | None] | None, list[Trial]]:
    """(run metadata, baseline, trials) of a finished or interrupted run, for reports."""
    path = Path(workspace) / FILENAME
    if not path.exists():
        raise ResumeError(f"no tuning history in {workspace}: {path} does not exist")
    with History(path, create=False) as history:
        return history.metadata(), history.baseline(), history.trials()
