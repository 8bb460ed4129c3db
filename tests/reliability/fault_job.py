"""The lpot command with faults injected at the OS boundary, for the fault corpus:
``fault_job.py ARGS...`` runs ``lpot ARGS...`` (``lpot.cli.main``) after installing what the
environment asks for:

- ``LPOT_FAULT_FSIZE=N``: ``RLIMIT_FSIZE`` of N bytes from the start (SIGXFSZ ignored: writes
  past N fail with EFBIG, as a quota or ``ulimit -f`` makes them);
- ``LPOT_FAULT_KILL=N``: SIGKILL this process at the N-th ``os.fsync`` (just after it), ``os.replace``
  or ``shutil.rmtree`` (just before) of a path containing ``LPOT_FAULT_MATCH`` (default
  ``best_model``): a kill at an exact point of an atomic write;
- ``LPOT_FAULT_COUNT=FILE``: write the list of those calls, in order, to FILE at exit.

The metric :class:`fault_metric.Top1` adds faults at the K-th evaluation (a full disk, a hang).
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import signal
import sys

MATCH = os.environ.get("LPOT_FAULT_MATCH", "best_model")


def fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def install() -> None:
    limit = os.environ.get("LPOT_FAULT_FSIZE")
    if limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.RLIM_INFINITY))
    kill = int(os.environ.get("LPOT_FAULT_KILL", "0"))
    count_file = os.environ.get("LPOT_FAULT_COUNT")
    if not kill and not count_file:
        return
    import shutil

    calls: list[str] = []
    real_fsync, real_replace, real_rmtree = os.fsync, os.replace, shutil.rmtree

    def seen(what: str, path: str) -> None:
        if MATCH not in path:
            return
        calls.append(f"{what} {path}")
        if len(calls) == kill:
            os.kill(os.getpid(), signal.SIGKILL)

    def fsync(fd: int) -> None:
        real_fsync(fd)  # the data is on disk, then the process dies: the worst moment
        seen("fsync", fd_path(fd if isinstance(fd, int) else fd.fileno()))

    def replace(src, dst, **kwargs) -> None:
        seen("replace", f"{os.fspath(src)} -> {os.fspath(dst)}")
        real_replace(src, dst, **kwargs)

    def rmtree(path, *args, **kwargs) -> None:
        seen("rmtree", os.fspath(path))
        real_rmtree(path, *args, **kwargs)

    os.fsync, os.replace, shutil.rmtree = fsync, replace, rmtree
    if count_file:
        atexit.register(lambda: open(count_file, "w").write(json.dumps(calls)))


if __name__ == "__main__":
    install()
    from lpot.cli import main

    sys.exit(main(sys.argv[1:]))
