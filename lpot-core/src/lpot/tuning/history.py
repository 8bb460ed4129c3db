"""The tuning history: one SQLite file per workspace, committed after every trial.

A run killed at any point (even SIGKILL) leaves every finished trial on disk; ``resume`` reads them
back. Only JSON and numbers are stored, never pickles, so a history file from anyone is safe to open.
"""

from __future__ import annotations

import contextlib
import errno
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lpot.errors import LpotError, ResumeError, WorkspaceError
from lpot.trial import Trial
from lpot.tuning.workspace import describe_os_error, write_failure

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


COLUMNS = {  # what each table must have for this lpot to read it
    "run": ("key", "value"),
    "baseline": ("id", "accuracy", "objective", "evaluate_s"),
    "trials": tuple(
        "idx fingerprint label recipe accuracy met objective status error quantize_s evaluate_s finished_at "
        "details".split()
    ),
}
SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY, SQLITE_CORRUPT, SQLITE_NOTADB = 13, 10, 8, 11, 26


class History:
    """Read and append the history of one workspace. Every SQLite failure becomes one precise
    error: a full disk (or file size limit) or an unwritable file is a :class:`WorkspaceError`
    that keeps every committed trial; a damaged file is a :class:`ResumeError` saying what to do."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        existed = self.path.exists()
        try:
            if create:
                self._db = sqlite3.connect(self.path)
            else:  # reports read without ever writing (or creating) a file
                self._db = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro", uri=True)
            self._db.row_factory = sqlite3.Row
        except sqlite3.Error as exc:
            raise self._problem(exc, "opening the history") from None
        try:
            if create:
                with self._writing("creating the history"):
                    self._db.executescript(_SCHEMA)
            self._check_columns()
        except LpotError:
            self._db.close()
            if create and not existed:
                _remove_created(self.path)  # a history that never held a row must not be resumed later
            raise

    def _problem(self, exc: sqlite3.Error, what: str) -> LpotError:
        """The error to raise for SQLite's ``exc`` while doing ``what``."""
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        text = str(exc)
        what = what if what.endswith(" of") else f"{what} in"  # "... while committing trial 3 in <path>"
        kept = "" if what.startswith(("creating", "opening")) else "every trial committed before is kept"
        if primary == SQLITE_FULL or "disk is full" in text.lower():
            return WorkspaceError(describe_os_error(OSError(errno.ENOSPC, text), self.path, what, kept=kept))
        if primary == SQLITE_IOERR:
            return WorkspaceError(write_failure(self.path, what, text, kept=kept))
        if primary == SQLITE_READONLY or "readonly" in text:
            return WorkspaceError(f"cannot write {self.path} ({text}): choose a writable workspace")
        if (
            primary in (SQLITE_CORRUPT, SQLITE_NOTADB)
            or isinstance(exc, sqlite3.DatabaseError)
            and not isinstance(exc, sqlite3.OperationalError)
        ):
            return ResumeError(
                f"{self.path} is damaged ({text}) and cannot be read: move it away (a fresh run moves it "
                "to previous/ by itself) and start again"
            )
        return WorkspaceError(f"{what} {self.path} failed: {text}; check the disk and the path")

    def _check_columns(self) -> None:
        """A history written by another tool or lpot: said by table and column, not a KeyError."""
        with self._reading("reading the tables of"):
            for table, wanted in COLUMNS.items():
                have = [r[1] for r in self._db.execute(f"PRAGMA table_info({table})")]
                missing = [c for c in wanted if c not in have]
                if have and missing:
                    raise ResumeError(
                        f"{self.path}: table {table} has no column {missing[0]!r} (it has {', '.join(have)}): "
                        "not a history this lpot wrote; move it away to start a fresh run there"
                    )
                if not have:
                    raise ResumeError(
                        f"{self.path} is not an lpot history (it has no table {table}); check the path"
                    )

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._problem(exc, what) from None

    @contextlib.contextmanager
    def _writing(self, what: str) -> Iterator[None]:
        """One transaction; a full disk or a vanished file is a WorkspaceError saying so (SQLite
        rolls the transaction back, so the history keeps every trial committed before)."""
        try:
            with self._db:
                yield
        except sqlite3.Error as exc:
            raise self._problem(exc, what) from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # run metadata -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        with self._reading("reading the run metadata of"):
            rows = self._db.execute("SELECT key, value FROM run").fetchall()
        out = {}
        for row in rows:
            try:
                out[row["key"]] = json.loads(row["value"])
            except (TypeError, ValueError) as exc:
                raise ResumeError(
                    f"{self.path}: the run metadata is damaged: key {row['key']!r} is not valid JSON ({exc}); "
                    "move the history away to start a fresh run there"
                ) from None
        return out

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
        with self._reading("reading the FP32 baseline of"):
            row = self._db.execute("SELECT accuracy, objective FROM baseline WHERE id = 1").fetchone()
        if row is None:
            return None
        try:
            return float(row["accuracy"]), None if row["objective"] is None else float(row["objective"])
        except (TypeError, ValueError):
            raise ResumeError(
                f"{self.path}: the FP32 baseline row is damaged; move the history away"
            ) from None

    def write_baseline(self, accuracy: float, objective: float | None, evaluate_s: float) -> None:
        with self._writing("committing the FP32 baseline"):
            self._db.execute(
                "INSERT OR REPLACE INTO baseline (id, accuracy, objective, evaluate_s) VALUES (1, ?, ?, ?)",
                (accuracy, objective, evaluate_s),
            )

    # trials -------------------------------------------------------------------------------
    def trials(self) -> list[Trial]:
        with self._reading("reading the trials of"):
            rows = self._db.execute("SELECT * FROM trials ORDER BY idx").fetchall()
        return [self._trial(dict(r)) for r in rows]

    def _trial(self, row: dict[str, Any]) -> Trial:
        try:
            return Trial.from_row(row)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            column = next((c for c in ("recipe", "details") if not _is_json(row.get(c))), "recipe")
            raise ResumeError(
                f"{self.path}: trial {row.get('idx')} is damaged: its {column} could not be read "
                f"({type(exc).__name__}: {exc}); move the history away to start a fresh run there"
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
        try:
            _check_resumable(history)
        except LpotError:
            history.close()
            raise
    return history


def _check_resumable(history: History) -> None:
    meta = history.metadata()
    if not meta.get("config_hash") or not meta.get("model_fingerprint"):
        raise ResumeError(
            f"cannot resume {history.path}: it holds no run metadata (which config, model and data), so its "
            "trials cannot be checked against this run; start a fresh run"
        )
    if meta.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise ResumeError(
            f"{history.path} was written by an incompatible lpot (schema {meta['schema_version']})"
        )


def _is_json(value: Any) -> bool:
    if value is None:
        return True
    try:
        json.loads(value)
    except (TypeError, ValueError):
        return False
    return True


def _remove_created(path: Path) -> None:
    for file in (path, path.with_name(path.name + "-journal")):
        with contextlib.suppress(OSError):
            file.unlink(missing_ok=True)


def read_workspace(
    workspace: str | Path,
) -> tuple[dict[str, Any], tuple[float, float | None] | None, list[Trial]]:
    """(run metadata, baseline, trials) of a finished or interrupted run, for reports."""
    path = Path(workspace) / FILENAME
    if not path.exists():
        raise ResumeError(f"no tuning history in {workspace}: {path} does not exist")
    with History(path, create=False) as history:
        return history.metadata(), history.baseline(), history.trials()
