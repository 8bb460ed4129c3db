"""What the handlers share: the served folders, the launcher, the limits and the templates.

None of it is a second copy of a run: every view is read from the run's folder when asked for.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from lpot.errors import LpotError
from lpot.ui.paths import Roots
from lpot.ui.process import Launcher, RunRecord
from lpot.ui.workspaces import RunView, is_workspace, load_run, scan, signature


class RunNotFound(LpotError, LookupError):
    """No workspace under that run id (answered with 404)."""


class BadRequest(LpotError, ValueError):
    """A request missing a parameter, or with one of the wrong kind (answered with 400)."""


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return "-"


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _when(stamp: float | None) -> str:
    return "-" if not stamp else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lpot.ui", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(number=_number, size=_size, when=_when, count=_count)
    return env


@dataclass
class UiState:
    roots: Roots
    max_upload: int
    launcher: Launcher = field(default_factory=Launcher)
    env: jinja2.Environment = field(default_factory=templates)

    def runs(self) -> list[RunView]:
        return [load_run(self.roots, folder, self.launcher) for folder in scan(self.roots)]

    def run(self, run_id: str) -> RunView:
        folder = self.roots.locate(run_id)
        if not folder.is_dir() or not is_workspace(folder):
            raise RunNotFound(f"no run {run_id!r}: no lpot workspace there")
        return load_run(self.roots, folder, self.launcher)

    def render(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(**context)

    # what the event streams watch: a page rendered at version v needs no update until it changes
    def activity(self, folder: Path) -> tuple[bool, bool]:
        return self.launcher.running(folder, RunRecord.read(folder)), self.launcher.benchmarking(folder)

    def runs_version(self) -> str:
        return version([(str(f), signature(f), self.activity(f)) for f in scan(self.roots)])

    def run_version(self, folder: Path) -> str:
        return version((signature(folder), self.activity(folder)))


def version(value: Any) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]
