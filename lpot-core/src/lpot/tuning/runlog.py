"""A structured log of the run in the workspace: one JSON object per line, for machines and CI."""

from __future__ import annotations

import json
import logging
from pathlib import Path

FILENAME = "run.log.jsonl"


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "lpot", {}))
        return json.dumps(entry, default=str)


class RunLog:
    """For the length of a run, write run events (the ``lpot.run`` logger, INFO, not shown on the
    console) and lpot's warnings to ``<workspace>/run.log.jsonl``; appends on resume."""

    def __init__(self, workspace: Path) -> None:
        self.path = Path(workspace) / FILENAME
        self.handler: logging.Handler | None = None

    def __enter__(self) -> RunLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(self.path, encoding="utf-8")
        self.handler.setFormatter(JsonLines())
        events = logging.getLogger(EVENTS)
        events.setLevel(logging.INFO)
        events.propagate = False
        for name in (EVENTS, "lpot"):
            logging.getLogger(name).addHandler(self.handler)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in (EVENTS, "lpot"):
            logging.getLogger(name).removeHandler(self.handler)
        if self.handler is not None:
            self.handler.close()


EVENTS = "lpot.run"


def event(name: str, **fields: object) -> None:
    """One JSON line ``{"event": name, ...fields}`` in the run log (nothing on the console)."""
    logging.getLogger(EVENTS).info(name, extra={"lpot": {"event": name, **fields}})
