"""Which files the UI may touch: only those inside the folders it was given.

Every path that comes from a request goes through :func:`inside`: no absolute paths, no ``..``,
and after resolving symlinks the file must still lie under its root, so a symlink pointing out of
a workspace is refused like ``../``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from lpot.errors import LpotError


class PathRefused(LpotError, PermissionError):
    """A path from a request leaves the folders the UI serves (answered with 403)."""


class Roots:
    """The folders given to ``lpot ui``, resolved once; run ids are ``"<root index>/<relative path>"``."""

    def __init__(self, folders: Sequence[str | Path]) -> None:
        self.paths = [Path(f).resolve() for f in folders]

    def run_id(self, path: Path) -> str:
        resolved = path.resolve()
        for index, root in enumerate(self.paths):
            if resolved.is_relative_to(root):
                return f"{index}/{resolved.relative_to(root).as_posix()}"
        raise PathRefused(f"{path} is outside the folders this lpot ui serves")

    def locate(self, run_id: str) -> Path:
        """The folder of ``run_id``, refused when the id names anything outside the roots."""
        index, _, relative = run_id.partition("/")
        if not index.isdigit() or int(index) >= len(self.paths):
            raise PathRefused(f"unknown run {run_id!r}")
        return inside(self.paths[int(index)], relative or ".")


def inside(root: Path, relative: str) -> Path:
    """``root / relative`` resolved, refused (:class:`PathRefused`) if it would leave ``root``."""
    if "\x00" in relative or "\\" in relative:
        raise PathRefused(f"refused path {relative!r}: unexpected character")
    parts = PurePosixPath(relative).parts
    if relative.startswith("/") or ".." in parts:
        raise PathRefused(f"refused path {relative!r}: it must stay inside the served folders")
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise PathRefused(f"refused path {relative!r}: it leads outside the served folders")
    return path
