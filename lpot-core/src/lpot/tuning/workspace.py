"""The workspace of a run: one run at a time (an OS lock), artifacts written atomically, a previous
run's files moved aside, and every filesystem fault said as one precise error.

The lock is ``fcntl.flock`` on ``WORKSPACE/.lock``, held for the whole run: the kernel releases it
when the process dies (even by SIGKILL), so a lock left by a killed run never blocks; the pid and
host written into the file only serve to name the holder. Artifacts are written as git and SQLite
would: into a temporary folder inside the workspace, every file fsynced, then renamed into place,
so a reader sees the old artifact or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lpot.errors import WorkspaceBusyError, WorkspaceError

LOCK = ".lock"
PREVIOUS = "previous"
# What belongs to one run and moves aside when a fresh run starts; calibration/ stays (content-keyed).
RUN_FILES = ("history.sqlite", "run.log.jsonl", "best_model", "report.html", "report.md", "tensorboard")


def describe_os_error(exc: OSError, path: Path, doing: str) -> str:
    """One sentence for a filesystem failure, with what to do about it."""
    code = exc.errno
    if code == errno.ENOSPC:
        return f"disk full while {doing} {path}: free some space, then run again with --resume"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {path} while {doing} ({os.strerror(code)}): choose a writable workspace"
    if code == errno.ENAMETOOLONG:
        return f"the path {str(path)[:80]}... is too long for this filesystem: choose a shorter workspace"
    if code in (errno.ENOTDIR, errno.EEXIST):
        return f"{path} lies under or is a file, not a folder: choose another workspace path"
    return f"{doing} {path} failed: {exc.strerror or exc}"


def check_path(path: Path) -> Path:
    """``path`` as a usable workspace folder (created), or a :class:`WorkspaceError` saying why not."""
    text = os.fspath(path)
    if "\0" in text:
        raise WorkspaceError(f"the workspace path {text!r} contains a NUL character")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"the workspace path {path} is a file, not a folder: choose another one")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise WorkspaceError(describe_os_error(exc, path, "creating the workspace")) from None
    return path


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold ``path/.lock`` for the length of a run; a second run is refused at once, by name."""
    import fcntl

    file = path / LOCK
    try:
        handle = open(file, "a+")  # noqa: SIM115 - closed below, the lock must outlive the block
    except OSError as exc:
        raise WorkspaceError(describe_os_error(exc, file, "locking the workspace")) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise WorkspaceBusyError(_busy_message(path, file)) from None
        handle.seek(0)
        handle.truncate()
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        handle.write(json.dumps(info))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the flock


def _busy_message(path: Path, file: Path) -> str:
    try:
        holder = json.loads(file.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    who = f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}"
    since = holder.get("started")
    when = f" since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}" if since else ""
    return (
        f"workspace {path} is in use by another lpot run ({who}{when}): wait for it to finish, stop it, "
        "or choose another workspace"
    )


def move_previous_run(path: Path) -> Path | None:
    """A fresh run in a used workspace: move the previous run's files to ``previous/<time>/``."""
    present = [name for name in RUN_FILES if (path / name).exists()]
    if not present:
        return None
    history = path / "history.sqlite"
    stamp_from = history if history.exists() else path / present[0]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(stamp_from.stat().st_mtime))
    target = path / PREVIOUS / stamp
    n = 1
    while target.exists():
        target, n = path / PREVIOUS / f"{stamp}-{n}", n + 1
    try:
        target.mkdir(parents=True)
        for name in present:
            os.replace(path / name, target / name)
    except OSError as exc:
        raise WorkspaceError(describe_os_error(exc, target, "moving the previous run to")) from None
    return target


def write_folder(destination: Path, fill: Callable[[Path], Any]) -> Any:
    """Write a folder atomically: ``fill(tmp)`` writes into a temporary sibling, every file is
    fsynced, then the folder replaces ``destination`` by renames. Returns what ``fill`` returned."""
    parent = destination.parent
    tmp = parent / f".tmp-{destination.name}-{os.getpid()}"
    old = parent / f".old-{destination.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        result = fill(tmp)
        _fsync_tree(tmp)
        if destination.exists():
            os.replace(destination, old)
        os.replace(tmp, destination)
        _fsync_dir(parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not destination.exists():
            os.replace(old, destination)  # put the previous artifact back
        raise WorkspaceError(describe_os_error(exc, destination, "writing")) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return _moved(result, tmp, destination)


def _moved(result: Any, tmp: Path, destination: Path) -> Any:
    """A path ``fill`` returned, inside the temporary folder, as it is now: inside ``destination``."""
    if isinstance(result, Path) and (result == tmp or tmp in result.parents):
        return destination / result.relative_to(tmp)
    return result


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            with open(Path(folder) / name, "rb") as fh:
                os.fsync(fh.fileno())
        _fsync_dir(Path(folder))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
