"""``tuning.exit_policy.timeout`` inside a trial: the code running in this process is interrupted
when the run's time is up.

In the serial executor a trial (and the FP32 baseline) runs in the driver's main thread under
``signal.setitimer(ITIMER_REAL)``: when the budget ends, SIGALRM raises :class:`TrialTimeout` in
whatever Python code is running, which unwinds the trial like Ctrl-C would (it is not an
``Exception``, so an ``except Exception`` in an eval_func does not swallow it). Native code that
never returns to Python (a C extension's loop) is interrupted when it next does; a blocking call
Python retries (``time.sleep``, a socket read) is interrupted at once. Off the main thread, or on
platforms without SIGALRM, the budget is checked between trials only. The local executor enforces
the same deadline from the driver by terminating the worker whose trial overran
(:mod:`lpot.tuning.executors.local`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator

MAX_SECONDS = 1e8  # a budget beyond ~3 years is no budget (and setitimer would overflow)


class TrialTimeout(BaseException):
    """The run's time budget ended while a trial (or the baseline) was running."""


def _expired(signum: int, frame: object) -> None:
    raise TrialTimeout


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeout` inside the block after ``seconds`` (None: no limit). A timer or
    SIGALRM handler the caller had is put back afterwards."""
    usable = (
        seconds is not None
        and seconds < MAX_SECONDS
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _expired)
    outer, _ = signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # a timer of the caller's: let it fire when it would have
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))
