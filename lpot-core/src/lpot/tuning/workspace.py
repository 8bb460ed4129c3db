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
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lpot.errors import WorkspaceBusyError, WorkspaceError

LOCK = ".lock"
PREVIOUS = "previous"
# What belongs to one run and moves aside when a fresh run starts; calibration/ stays (content-keyed).
RUN_FILES = ("history.sqlite", "run.log.jsonl", "best_model", "report.html", "report.md", "tensorboard")


def describe_os_error(exc: OSError, path: Path, doing: str, *, kept: str = "") -> str:
    """One sentence for a filesystem failure: what happened to which path, and what to do
    (``kept``: what survived, said before the fix)."""
    code = exc.errno
    kept = f"{kept}; " if kept else ""
    if code == errno.ENOSPC:
        return f"disk full while {doing} {path}: {kept}free some space, then run again (with --resume to continue a run)"
    if code == errno.EFBIG:
        return (
            f"the file size limit ({_size_limit()}) was reached while {doing} {path}: {kept}raise it "
            "(ulimit -f) or free space, then run again (with --resume to continue a run)"
        )
    if code == errno.EROFS:
        return f"{path} is on a read-only file system ({doing}): choose a writable workspace"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot create or write {path} while {doing} ({os.strerror(code)}): choose a folder you can write"
    if code == errno.ENAMETOOLONG:
        return f"the path {str(path)[:80]}... is too long for this filesystem: choose a shorter one"
    if code in (errno.ENOTDIR, errno.EEXIST):
        blocker = _file_on_the_way(path)
        if blocker is not None and blocker != path:
            return f"{blocker} is a file: {path} cannot be created under it; choose another path"
        return f"{path} is a file, not a folder: choose another path"
    if code == errno.ENOENT and path.parent.is_dir():
        return f"cannot create {path} while {doing}: its folder accepts no new files; choose another path"
    return f"{doing} {path} failed: {exc.strerror or exc}"


def write_failure(path: Path, doing: str, detail: str, *, kept: str = "") -> str:
    """A write that failed without an errno (SQLite's "disk I/O error"): say a full disk or the file
    size limit when that is what stopped it, else the failure as it was reported."""
    try:
        free = os.statvfs(path.parent)
        disk_full = free.f_bavail * free.f_frsize < 64 * 1024
    except OSError:
        disk_full = False
    if disk_full:
        return describe_os_error(OSError(errno.ENOSPC, "disk full"), path, doing, kept=kept)
    if _size_limit() != "none":
        return describe_os_error(OSError(errno.EFBIG, "file too large"), path, doing, kept=kept)
    return (
        f"{doing} {path} failed ({detail}): check the disk, then run again (with --resume to continue a run)"
    )


def _size_limit() -> str:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return "none" if soft == resource.RLIM_INFINITY else f"{soft} bytes"


def _file_on_the_way(path: Path) -> Path | None:
    """The first ancestor of ``path`` (or itself) that exists and is not a folder."""
    for candidate in [*reversed(path.parents), path]:
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return None
    return None


def check_path(path: Path) -> Path:
    """``path`` as a usable workspace folder (created), or a :class:`WorkspaceError` saying why not."""
    text = os.fspath(path)
    if "\0" in text:
        raise WorkspaceError(f"the workspace path {text!r} contains a NUL character")
    path = Path(text)
    try:
        if path.exists() and not path.is_dir():
            raise WorkspaceError(f"the workspace path {path} is a file, not a folder: choose another one")
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except WorkspaceError:
        raise
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
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(info))
            handle.flush()
        except OSError as exc:  # a full disk: say so now, not hours later at the first commit
            raise WorkspaceError(describe_os_error(exc, file, "locking the workspace")) from None
        yield
    finally:
        with contextlib.suppress(OSError):  # buffered lock text that cannot be written is not needed
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
    recover_folder(path / "best_model")  # a killed save's leftovers, before the run is moved
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
    fsynced, then the folder takes the place of ``destination`` in one step (an atomic exchange
    where the kernel has one, else two renames). A reader sees the old folder or the new one, never
    half of one; what a killed writer left (``.tmp-*``, ``.old-*``) is cleaned, or put back, by the
    next writer. Returns what ``fill`` returned."""
    parent = destination.parent
    recover_folder(destination)
    tmp = parent / f".tmp-{destination.name}-{os.getpid()}"
    old = parent / f".old-{destination.name}-{os.getpid()}"
    try:
        tmp.mkdir(parents=True)
        result = fill(tmp)
        _fsync_tree(tmp)
        if destination.exists() and _exchange(tmp, destination):
            shutil.rmtree(tmp, ignore_errors=True)  # now the previous folder
        else:
            if destination.exists():
                os.replace(destination, old)
            os.replace(tmp, destination)
        _fsync_dir(parent)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not destination.exists():
            os.replace(old, destination)  # put the previous artifact back
        cause = _os_error(exc)
        if cause is None:
            raise
        raise WorkspaceError(describe_os_error(cause, destination, "writing")) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return _moved(result, tmp, destination)


def write_file(path: Path, content: bytes, doing: str) -> Path:
    """Write one file atomically (a temporary sibling, fsynced, renamed over ``path``); a folder in
    the way or a filesystem failure is one :class:`WorkspaceError` naming ``path``."""
    path = Path(path)
    if path.is_dir():
        raise WorkspaceError(f"{path} is a folder: give a file name, such as {path / 'report.html'}")
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise WorkspaceError(describe_os_error(exc, path, doing)) from None
    return path


def recover_folder(destination: Path) -> None:
    """Undo what a writer killed inside :func:`write_folder` left next to ``destination``: a
    previous folder set aside (``.old-*``) is put back when nothing took its place, temporary
    folders of dead writers are removed. A live writer's files are left alone."""
    parent = destination.parent
    if not parent.is_dir():
        return
    for kind in (".old-", ".tmp-"):
        for path in sorted(parent.glob(f"{kind}{destination.name}-*")):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
                continue
            if kind == ".old-" and not destination.exists():
                os.replace(path, destination)
            else:
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    kernel or filesystem has no such call, and the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    done = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (a framework's save may wrap the one that says "disk full")."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


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
