"""The worker side of the remote executors: pin to cores, load the run's context once, run trials.

Imported in freshly spawned processes, so it imports nothing heavy at module level: the context
(model, evaluator, backend) is unpickled only after the process is pinned to its cores, so that
frameworks size their thread pools from the pinned set.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def slot_cores(slot: int, cores_per_worker: int, cores: Sequence[int]) -> list[int]:
    """The cores of worker ``slot``: consecutive blocks of ``cores_per_worker``, wrapping around."""
    n = len(cores)
    return sorted({cores[(slot * cores_per_worker + j) % n] for j in range(cores_per_worker)})


def pin(cores: Sequence[int]) -> None:
    """Pin this process to ``cores`` (Linux); elsewhere only the thread variables are set."""
    if cores and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, set(cores))
        except OSError:
            pass


def extend_path(paths: Sequence[str]) -> None:
    """Make the driver's import path visible (its eval_func may live in a script or test folder)."""
    for entry in paths:
        if entry not in sys.path:
            sys.path.append(entry)


def setup_problem(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def sendable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a RuntimeError carrying its text and traceback."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return RuntimeError(f"{type(exc).__name__} in a worker: {exc}\n{text}")


# local pool ---------------------------------------------------------------------------------
def local_main(conn: Any, cores: list[int], payload: bytes, paths: list[str]) -> None:
    """One worker of the local pool: handshake, then run tasks from ``conn`` until told to stop.

    Ctrl-C reaches the whole process group; the driver decides, so workers ignore it. When the
    driver dies, ``conn`` reaches EOF and the worker exits.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pin(cores)
    extend_path(paths)
    context, problem = None, None
    try:
        context = pickle.loads(payload)
        context.bind()
    except BaseException as exc:  # reported to the driver, which says what to do about it
        problem = setup_problem(exc)
    del payload
    try:
        conn.send(("ready", problem, os.getpid()))
        while True:
            task = conn.recv()
            if task is None:
                return
            if problem is not None:
                conn.send(("setup", problem))
                continue
            try:
                trial = context.run(task)
            except BaseException as exc:
                conn.send(("error", sendable(exc)))
            else:
                conn.send(("ok", trial))
    except (EOFError, OSError, KeyboardInterrupt):
        return


# ray tasks ----------------------------------------------------------------------------------
_ORIGINAL_CORES: list[int] | None = None
_CONTEXTS: dict[str, Any] = {}  # run id -> bound WorkerContext: each worker process loads a run once


def ray_trial(run_id: str, payload_ref: list[Any], paths: list[str], task: Any, slot: int, cpw: int) -> Any:
    """A Ray task: one trial. ``payload_ref`` is ``[ObjectRef]`` (in a list so Ray does not fetch it
    for every task): the context is fetched and unpickled once per worker process and run."""
    global _ORIGINAL_CORES
    if _ORIGINAL_CORES is None:
        _ORIGINAL_CORES = available_cores()
    pin(slot_cores(slot, cpw, _ORIGINAL_CORES))
    context = _CONTEXTS.get(run_id)
    if context is None:
        import ray

        from lpot.errors import WorkerSetupError

        extend_path(paths)
        try:
            context = pickle.loads(ray.get(payload_ref[0]))
            context.bind()
        except Exception as exc:
            raise WorkerSetupError(setup_problem(exc)) from None
        _CONTEXTS.clear()  # a long-lived worker keeps only the current run
        _CONTEXTS[run_id] = context
    if task is None:  # the probe at start: the context loads
        return os.getpid()
    return context.run(task)
