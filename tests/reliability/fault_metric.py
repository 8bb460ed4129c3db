"""Top-1 accuracy, with faults at the K-th evaluation named by the environment (fault corpus):

- ``LPOT_FAULT_FULL_AT=K`` with ``LPOT_FAULT_FULL=fsize:FILE`` (no file may grow past FILE's size
  from now on: ``RLIMIT_FSIZE``) or ``fill:FILE`` (FILE is written until the disk is full);
- ``LPOT_FAULT_HANG_AT=K``: the K-th evaluation never returns.

Counts are per process, so a resumed run starts counting again.
"""

from __future__ import annotations

import os
import resource
import signal
import time
from typing import Any

import numpy as np


class Top1:
    higher_is_better = True
    calls = 0

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.correct = self.total = 0

    def update(self, preds: Any, labels: Any) -> None:
        self.correct += int((np.asarray(preds).argmax(1) == np.asarray(labels)).sum())
        self.total += len(labels)

    def result(self) -> float:
        type(self).calls += 1
        n = type(self).calls
        if str(n) == os.environ.get("LPOT_FAULT_FULL_AT"):
            fill_disk(os.environ["LPOT_FAULT_FULL"])
        if str(n) == os.environ.get("LPOT_FAULT_HANG_AT"):
            while True:
                time.sleep(1)
        return self.correct / max(self.total, 1)


def fill_disk(spec: str) -> None:
    how, _, path = spec.partition(":")
    if how == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path), resource.RLIM_INFINITY))
        return
    with open(path, "wb", buffering=0) as fh:
        block = b"\0" * 4096
        try:
            while True:
                fh.write(block)
        except OSError:
            pass
