"""The tuning history: one SQLite file per workspace, committed after every trial.

A run killed at any point (even SIGKILL) leaves every finished trial on disk; ``resume`` reads them
back. Only JSON and numbers are stored, never pickles, so a history file from anyone is safe to open.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lpot.errors import ResumeError
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

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.row_factory = sqlite3.Row
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ResumeError(f"{self.path} is not a readable lpot history ({exc}); move it away") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # run metadata -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self._db.execute("SELECT key, value FROM run")}

    def write_metadata(self, values: Mapping[str, Any]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO run (key, value) VALUES (?, ?)",
                [(k, json.dumps(v, sort_keys=True)) for k, v in values.items()],
            )

    def check_same_run(self, config_hash: str, model_fingerprint: str) -> None:
        """Refuse to resume a workspace that belongs to a different config or model."""
        meta = self.metadata()
        if not meta:
            return
        if meta.get("config_hash") != config_hash:
            raise ResumeError(
                f"cannot resume {self.path.parent}: the configuration changed since that run "
                f"(config hash {meta.get('config_hash', '?')[:12]} there, {config_hash[:12]} now). "
                "Restore the original config, or start a new run in another workspace."
            )
        if meta.get("model_fingerprint") != model_fingerprint:
            raise ResumeError(
                f"cannot resume {self.path.parent}: the model changed since that run "
                f"(fingerprint {meta.get('model_fingerprint', '?')[:12]} there, {model_fingerprint[:12]} now). "
                "Use the original model, or start a new run in another workspace."
            )

    # baseline -----------------------------------------------------------------------------
    def baseline(self) -> tuple[float, float | None] | None:
        row = self._db.execute("SELECT accuracy, objective FROM baseline WHERE id = 1").fetchone()
        return None if row is None else (float(row["accuracy"]), row["objective"])

    def write_baseline(self, accuracy: float, objective: float | None, evaluate_s: float) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO baseline (id, accuracy, objective, evaluate_s) VALUES (1, ?, ?, ?)",
                (accuracy, objective, evaluate_s),
            )

    # trials -------------------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        rows = self._db.execute("SELECT * FROM trials ORDER BY idx").fetchall()
        return [Trial.from_row(dict(r)) for r in rows]

    def append(self, trial: Trial) -> None:
        """Commit one finished trial now, so a crash right after loses nothing."""
        row = trial.to_row()
        row["finished_at"] = time.time()
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO trials ({cols}) VALUES ({marks})", tuple(row.values()))


def open_history(workspace: Path, *, resume: bool) -> History:
    """The history of ``workspace``; a fresh run keeps an older history under a dated name."""
    path = Path(workspace) / FILENAME
    if path.exists() and not resume:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
        path.rename(path.with_name(f"history-{stamp}.sqlite"))
    if resume and not path.exists():
        raise ResumeError(f"nothing to resume: {path} does not exist (run without resume to start)")
    history = History(path)
    if resume:
        meta = history.metadata()
        if meta.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
            raise ResumeError(f"{path} was written by an incompatible lpot (schema {meta['schema_version']})")
    return history


def read_workspace(
    workspace: str | Path,
) -> tuple[dict[str, Any], tuple[float, float | None] | None, list[Trial]]:
    """(run metadata, baseline, trials) of a finished or interrupted run, for reports."""
    path = Path(workspace) / FILENAME
    if not path.exists():
        raise ResumeError(f"no tuning history in {workspace}: {path} does not exist")
    with History(path) as history:
        return history.metadata(), history.baseline(), history.trials()
