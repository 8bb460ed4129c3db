"""Run events: what happened during a run, as structured records for machines, CI and the UI.

The loop, the calibration store and the trial runner are given an :class:`EventSink` (no global
logger to configure): :class:`RunLog` writes one JSON object per line to the workspace's
``run.log.jsonl`` (appending on resume) and also records lpot's warnings there; :class:`NullSink`
drops everything; :class:`MemorySink` keeps them for tests.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Protocol

FILENAME = "run.log.jsonl"


class EventSink(Protocol):
    def emit(self, name: str, **fields: Any) -> None:
        """Record event ``name`` with JSON-able ``fields``."""


class NullSink:
    def emit(self, name: str, **fields: Any) -> None:
        pass


class MemorySink:
    """Events kept in a list, as ``(name, fields)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, name: str, **fields: Any) -> None:
        self.events.append((name, fields))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [fields for n, fields in self.events if n == name]


class _Warnings(logging.Handler):
    """lpot's warnings during a run, copied into the run log as ``warning`` events."""

    def __init__(self, sink: RunLog) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write({"level": "warning", "message": record.getMessage()}, record.created)


class RunLog:
    """``<workspace>/run.log.jsonl`` for the length of a run (a context manager)."""

    def __init__(self, workspace: Path) -> None:
        self.path = Path(workspace) / FILENAME
        self._file: Any = None
        self._handler: logging.Handler | None = None

    def __enter__(self) -> RunLog:
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        self._handler = _Warnings(self)
        logging.getLogger("lpot").addHandler(self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handler is not None:
            logging.getLogger("lpot").removeHandler(self._handler)
        if self._file is not None:
            self._file.close()
            self._file = None

    def emit(self, name: str, **fields: Any) -> None:
        self.write({"level": "info", "event": name, "message": name, **fields})

    def write(self, entry: dict[str, Any], created: float | None = None) -> None:
        if self._file is None:
            return
        record = {"time": round(created or time.time(), 3), **entry}
        try:
            self._file.write(json.dumps(record, default=str) + "\n")
            self._file.flush()
        except OSError:  # a full disk must not end the run over a log line
            pass
