"""The ``ray`` executor: trials as Ray tasks (``pip install 'lpot-core[ray]'``).

Connects to the cluster at ``address`` (``"auto"`` for the one this machine belongs to), reuses
one this process already joined, or starts a local one with ``workers x cores_per_worker`` CPUs.

- The run's context (FP32 model, evaluator with its eval data, objective) is put in the
  object store once (``ray.put``); each task carries only the recipe, the goal and the
  calibration statistics (plain JSON data). A worker process fetches and unpickles the context on
  its first task of the run and keeps it for the next ones.
- Workers find backends through the same entry points as the driver (the backend travels by name),
  so every node needs the backend's package installed; the driver's ``sys.path`` is added to the
  workers' so an eval_func from a script or test folder imports (on one machine).
- A worker that dies mid-trial (killed, out of memory, node lost) is a system failure: Ray runs the
  task again, at most ``max_retries`` times; after that the trial is recorded as failed and the
  run goes on. The driver commits a trial to the history when its task returns, so a retried
  trial is committed once.
- Each task pins itself to the ``cores_per_worker`` cores of its slot (slots are handed out by
  the driver, so two trials running at once on one node use different cores) and asks Ray for
  that many CPUs.

Context and tasks are serialized with Ray's cloudpickle: unlike the ``local`` executor, a lambda or
closure works as eval_func, as long as what it closes over can be pickled.
"""

from __future__ import annotations

import logging
import os
import sys
import uuid
from typing import Any

from lpot.errors import PluginError, WorkerSetupError
from lpot.trial import Trial
from lpot.tuning.executors import TrialTask, failed_trial
from lpot.tuning.executors._worker import ray_trial

log = logging.getLogger("lpot")


def require_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise PluginError(
            f"the 'ray' executor needs the 'ray' package, which is not installed ({exc}). "
            "Install it with: pip install 'lpot-core[ray]'"
        ) from exc
    return ray


class RayExecutor:
    name = "ray"
    remote = True

    def __init__(
        self,
        workers: int | None = None,
        cores_per_worker: int | None = None,
        address: str | None = None,
        max_retries: int = 2,
    ) -> None:
        self.ray = require_ray()
        self.cores_per_worker = cores_per_worker or 1
        self.workers = workers or 0  # 0: as many as the cluster's CPUs allow, known at start
        self.address = address
        self.max_retries = max_retries
        self.started_cluster = False
        self.run_id = uuid.uuid4().hex
        self._refs: dict[Any, tuple[TrialTask, int]] = {}  # task ref -> (task, slot)
        self._free: list[int] = []
        self._payload_ref: Any = None
        self._remote: Any = None

    def dumps(self, value: Any) -> bytes:
        return self.ray.cloudpickle.dumps(value)

    def start(self, payload: bytes) -> None:
        ray = self.ray
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                cpus = (self.workers or len(os.sched_getaffinity(0))) * self.cores_per_worker
                ray.init(
                    num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
                )
                self.started_cluster = True
        if not self.workers:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // self.cores_per_worker)
        self._free = list(range(self.workers))
        self._payload_ref = ray.put(payload)
        self._remote = ray.remote(num_cpus=self.cores_per_worker, max_retries=self.max_retries)(ray_trial)
        try:  # one task that only loads the context: a setup problem shows before any trial
            ray.get(self._call(None, 0))
        except ray.exceptions.RayTaskError as exc:
            self.close()
            cause = getattr(exc, "cause", None)
            raise WorkerSetupError(f"a Ray worker could not load the tuning job: {cause or exc}") from None

    def _call(self, task: TrialTask | None, slot: int) -> Any:
        return self._remote.remote(
            self.run_id, [self._payload_ref], list(sys.path), task, slot, self.cores_per_worker
        )

    @property
    def busy(self) -> int:
        return len(self._refs)

    def submit(self, task: TrialTask) -> None:
        slot = self._free.pop(0)
        self._refs[self._call(task, slot)] = (task, slot)

    def wait(self) -> list[tuple[TrialTask, Trial]]:
        ray = self.ray
        ready, _ = ray.wait(list(self._refs), num_returns=1)
        done = []
        for ref in ready:
            task, slot = self._refs.pop(ref)
            self._free.append(slot)
            self._free.sort()
            try:
                trial = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # the trial itself raised: as in a serial run
                cause = getattr(exc, "cause", None)
                if isinstance(cause, WorkerSetupError):
                    raise WorkerSetupError(f"a Ray worker could not load the tuning job: {cause}") from None
                raise (cause if isinstance(cause, BaseException) else exc) from None
            except ray.exceptions.RayError as exc:  # the worker (or node) died: retries are spent
                log.warning("ray executor: trial %d (%s) lost its worker: %s", task.index, task.label, exc)
                error = f"worker lost {self.max_retries + 1} times running this trial: {type(exc).__name__}"
                trial = failed_trial(task, error, 0.0)
            done.append((task, trial))
        return done

    def close(self) -> None:
        ray = self.ray
        for ref in list(self._refs):
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        self._refs.clear()
        self._payload_ref = None
        if self.started_cluster and ray.is_initialized():
            ray.shutdown()
            self.started_cluster = False
