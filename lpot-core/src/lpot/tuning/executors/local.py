"""The ``local`` executor: worker processes on this machine, each pinned to its own cores.

Each worker is a spawned process with its own pipe, started once per run: it receives the run's
context (FP32 model, evaluator, objective) when it starts and then one :class:`TrialTask` at a
time. One pipe per worker means a worker that dies is known, and so is the trial it was running:
that trial is given to a fresh worker (at most ``max_retries`` times, then recorded as failed) and
the other trials are untouched.

Workers are pinned (``os.sched_setaffinity``) to ``cores_per_worker`` cores each, consecutive
blocks of the cores this process may use, and the usual thread-count variables are set to that
number, so two evaluations do not fight over the same cores. Latency measured in a worker is the
latency on its cores: compare trials with each other, not with a run on the whole machine.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import wait as wait_for
from typing import Any

from lpot.errors import ConfigError, ExecutorError, WorkerSetupError
from lpot.trial import Trial
from lpot.tuning.executors import TrialTask, failed_trial, timed_out_trial
from lpot.tuning.executors._worker import THREAD_VARIABLES, available_cores, local_main, slot_cores

log = logging.getLogger("lpot")
START_TIMEOUT_S = 300.0


@dataclass
class _Worker:
    slot: int
    cores: list[int]
    process: Any
    conn: Any
    pid: int | None = None
    task: TrialTask | None = None
    started: float = 0.0  # when its task was sent


class LocalExecutor:
    name = "local"
    remote = True

    def __init__(
        self, workers: int | None = None, cores_per_worker: int | None = None, max_retries: int = 2
    ) -> None:
        cores = available_cores()
        if workers is None:
            workers = max(1, len(cores) // (cores_per_worker or 1))
        if workers > len(cores):
            raise ConfigError(
                f"tuning.executor.workers (--workers): {workers} local workers, but this process has "
                f"{len(cores)} usable cores: use at most {len(cores)} (each worker is a process busy on its own core)"
            )
        self.workers = workers
        self.cores_per_worker = cores_per_worker or max(1, len(cores) // workers)
        self.max_retries = max_retries
        self.cores = cores
        if workers * self.cores_per_worker > len(cores):
            log.warning(
                "local executor: %d workers x %d cores need %d cores, this process may use %d; "
                "workers share cores, so latency measurements will interfere",
                workers,
                self.cores_per_worker,
                workers * self.cores_per_worker,
                len(cores),
            )
        self._ctx = multiprocessing.get_context("spawn")
        self._payload = b""
        self._pool: list[_Worker] = []
        self._done: list[tuple[TrialTask, Trial]] = []
        self._deadline: float | None = None  # time.monotonic() when tuning.exit_policy.timeout ends
        self._timeout = 0.0

    def set_deadline(self, at: float, timeout: float) -> None:
        """Trials still running at ``at`` are stopped (their worker terminated) and recorded as
        timed out: ``tuning.exit_policy.timeout`` holds inside a trial, not only between trials."""
        self._deadline, self._timeout = at, timeout

    # lifecycle ------------------------------------------------------------------------------
    def dumps(self, value: Any) -> bytes:
        import pickle

        return pickle.dumps(value)  # the driver's own objects, to its own workers

    def start(self, payload: bytes) -> None:
        """Start every worker and wait until each has loaded the context (a setup problem raises
        :class:`WorkerSetupError` before any trial)."""
        self._payload = payload
        started = [self._spawn(slot) for slot in range(self.workers)]
        for worker in started:
            self._handshake(worker)
        self._pool = started

    def _spawn(self, slot: int) -> _Worker:
        cores = slot_cores(slot, self.cores_per_worker, self.cores)
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(
            target=local_main,
            args=(child, cores, self._payload, list(sys.path)),
            name=f"lpot-worker-{slot}",
            daemon=False,  # a worker may start processes of its own (a framework's data loader)
        )
        with _thread_variables(len(cores)):
            process.start()
        child.close()
        return _Worker(slot=slot, cores=cores, process=process, conn=parent)

    def _handshake(self, worker: _Worker) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not worker.conn.poll(0.1):
            if not worker.process.is_alive() or time.monotonic() > deadline:
                code = worker.process.exitcode
                self.close()
                raise ExecutorError(
                    f"local executor: worker {worker.slot} did not start (exit code {code}). If your script "
                    "calls lpot.tune at import time, guard it with `if __name__ == '__main__':` (workers are "
                    "spawned and import the main module)."
                )
        try:
            _, problem, pid = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self.close()
            raise ExecutorError(f"local executor: worker {worker.slot} died while starting ({exc})") from exc
        if problem is not None:
            self.close()
            raise WorkerSetupError(f"a local worker could not load the tuning job: {problem}")
        worker.pid = pid

    def close(self) -> None:
        for worker in self._pool:
            with contextlib.suppress(Exception):
                worker.conn.send(None)
        deadline = time.monotonic() + 2.0
        for worker in self._pool:
            worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            with contextlib.suppress(Exception):
                worker.conn.close()
        self._pool = []

    # tasks ----------------------------------------------------------------------------------
    @property
    def busy(self) -> int:
        return sum(w.task is not None for w in self._pool) + len(self._done)

    @property
    def pids(self) -> list[int | None]:
        return [w.pid for w in self._pool]

    def submit(self, task: TrialTask) -> None:
        worker = next((w for w in self._pool if w.task is None), None)
        if worker is None:
            raise RuntimeError("local executor: submit() with every worker busy")
        if not worker.process.is_alive():  # stopped at a deadline: start its successor now
            worker = self._replace(worker)
        worker.task, worker.started = task, time.monotonic()
        try:
            worker.conn.send(task)
        except (OSError, EOFError):
            self._lost(worker)  # found dead: the next wait() sees the retried task

    def wait(self) -> list[tuple[TrialTask, Trial]]:
        while not self._done:
            busy = [w for w in self._pool if w.task is not None]
            if not busy:
                raise RuntimeError("local executor: wait() with nothing running")
            by_handle: dict[Any, _Worker] = {}
            for w in busy:
                by_handle[w.conn] = w
                by_handle[w.process.sentinel] = w
            left = None if self._deadline is None else self._deadline - time.monotonic()
            ready = wait_for(list(by_handle), timeout=None if left is None else max(left, 0.0))
            if not ready and left is not None:
                self._expire(busy)
                break
            for handle in ready:
                worker = by_handle[handle]
                if worker.task is None:
                    continue  # both its pipe and its sentinel were ready
                if handle is worker.conn:
                    self._receive(worker)
                elif not worker.conn.poll():  # the process ended and left no answer
                    self._lost(worker)
        done, self._done = self._done, []
        return done

    def _receive(self, worker: _Worker) -> None:
        task = worker.task
        assert task is not None
        try:
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        worker.task = None
        if kind == "ok":
            self._done.append((task, value))
        elif kind == "setup":
            raise WorkerSetupError(f"a local worker could not load the tuning job: {value}")
        else:
            raise value

    def _expire(self, busy: list[_Worker]) -> None:
        """The run's time is up: terminate the workers still running a trial (a hung evaluation
        never answers), record those trials as timed out. Successors start only if asked for."""
        now = time.monotonic()
        for worker in busy:
            task = worker.task
            assert task is not None
            worker.process.kill()
            worker.process.join(5)
            with contextlib.suppress(Exception):
                worker.conn.close()
            worker.task = None
            log.warning("local executor: trial %d (%s) stopped by the timeout", task.index, task.label)
            self._done.append((task, timed_out_trial(task, self._timeout, now - worker.started)))

    def _replace(self, worker: _Worker) -> _Worker:
        fresh = self._spawn(worker.slot)
        self._handshake(fresh)
        self._pool[self._pool.index(worker)] = fresh
        return fresh

    def _lost(self, worker: _Worker) -> None:
        """The worker died mid-trial: replace it, and retry its trial or record it as failed."""
        task = worker.task
        assert task is not None
        worker.process.join(1)
        code = worker.process.exitcode
        log.warning(
            "local executor: worker %d (pid %s) died (exit code %s) running trial %d (%s)",
            worker.slot,
            worker.pid,
            code,
            task.index,
            task.label,
        )
        worker.task = None
        with contextlib.suppress(Exception):
            worker.conn.close()
        self._replace(worker)
        if task.attempt < self.max_retries:
            self.submit(replace(task, attempt=task.attempt + 1))
        else:
            error = f"worker process died {task.attempt + 1} times running this trial (last exit code {code})"
            self._done.append((task, failed_trial(task, error, 0.0)))


@contextlib.contextmanager
def _thread_variables(threads: int) -> Iterator[None]:
    """Thread-count variables for a child being spawned (the user's own settings win)."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    for key in THREAD_VARIABLES:
        os.environ.setdefault(key, str(threads))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
