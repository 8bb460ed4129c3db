"""Where trials run: the executor seam of the tuning loop.

The loop (driver) proposes, calibrates, keeps the history and decides; an executor only runs
trials (quantize with the given statistics, evaluate, measure the objective) and hands back
:class:`~lpot.trial.Trial` objects:

- ``serial`` (default): in the driver, one at a time, exactly the behaviour of a run without executor;
- ``local``: a pool of worker processes on this machine, each pinned to its own cores;
- ``ray``: tasks on a Ray cluster (an existing one at ``address``, or a local one).

Remote executors get everything that does not change between trials once (:class:`WorkerContext`:
the FP32 model, the evaluator with its data, the objective) and, per trial, a :class:`TrialTask`:
the recipe, the goal and the calibration statistics as plain JSON data. Calibration stays in the
driver (once per spec, cached in the workspace).
"""

from __future__ import annotations

import copy
import logging
import math
import pickle
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lpot.errors import ConfigError, EvaluationError, LpotError, QuantizationError
from lpot.goal import Goal
from lpot.recipe import Recipe
from lpot.trial import FAILED, OK, TIMED_OUT, Trial

log = logging.getLogger("lpot")


@dataclass(frozen=True)
class TrialTask:
    """One trial to run: everything that changes from trial to trial, small and picklable."""

    index: int
    label: str
    recipe: Recipe
    goal: Goal
    stats: dict[str, dict[str, Any]] | None = None  # algorithm -> Stats.to_dict(), remote executors only
    artifacts: dict[str, dict[str, bytes]] | None = None  # algorithm -> Stats.artifacts, likewise
    attempt: int = 0  # retries after the worker running it died


class Executor(Protocol):
    """Runs trials; ``workers`` of them at once. ``remote``: in other processes than the driver.

    Remote executors are started once per run with the serialized :class:`WorkerContext`
    (``start(payload)``) and serialize it with ``dumps`` (pickle, or Ray's cloudpickle).
    """

    name: str
    workers: int
    remote: bool

    @property
    def busy(self) -> int: ...  # tasks submitted and not yet returned by wait()
    def submit(self, task: TrialTask) -> None: ...
    def wait(self) -> list[tuple[TrialTask, Trial]]: ...  # blocks until at least one task is done
    def close(self) -> None: ...


class RemoteExecutor(Executor, Protocol):
    cores_per_worker: int

    def start(self, payload: bytes) -> None: ...
    def dumps(self, value: Any) -> bytes: ...


def execute_trial(
    task: TrialTask,
    quantize: Callable[[Recipe], Any],
    evaluate: Callable[[Any, Goal], Any],
    measure: Callable[[Any], tuple[float | None, dict[str, float]]],
) -> tuple[Trial, Any]:
    """Quantize, evaluate and measure one recipe: the body of a trial, in the driver or a worker.

    Returns the trial and the quantized model (None when the trial failed). A recipe the backend
    cannot build is a failed trial; bad data or config (any other lpot error) raises, since every
    trial would fail the same way.
    """
    t0 = time.monotonic()
    try:
        model = quantize(task.recipe)
    except LpotError as exc:
        if not isinstance(exc, QuantizationError):
            raise
        return failed_trial(task, f"{type(exc).__name__}: {exc}", time.monotonic() - t0), None
    except Exception as exc:  # a backend bug on one recipe must not lose the run
        return failed_trial(task, f"{type(exc).__name__}: {exc}", time.monotonic() - t0), None
    t1 = time.monotonic()
    try:
        evaluation = evaluate(model, task.goal)
    except EvaluationError as exc:
        return failed_trial(task, f"evaluation: {exc}", t1 - t0), None
    t2 = time.monotonic()
    accuracy = float(evaluation.value)
    met = task.goal.met(accuracy)
    objective, parts = measure(model)  # for every trial: reports plot accuracy against it
    trial = Trial(
        index=task.index,
        recipe=task.recipe,
        label=task.label,
        accuracy=accuracy,
        met=met,
        objective=objective,
        status=OK,
        quantize_s=t1 - t0,
        evaluate_s=t2 - t1,
        details={**evaluation.details(), **({"objective_parts": parts} if parts else {})},
    )
    return trial, model


def failed_trial(task: TrialTask, error: str, seconds: float, status: str = FAILED) -> Trial:
    """The trial of a recipe that could not be built or run; the traceback of the exception being
    handled, if any, goes in its details (``lpot tune --debug`` prints it)."""
    import sys
    import traceback

    details = {"traceback": traceback.format_exc()} if sys.exc_info()[0] is not None else {}
    return Trial(
        index=task.index,
        recipe=task.recipe,
        label=task.label,
        accuracy=math.nan,
        met=False,
        status=status,
        error=error,
        quantize_s=seconds,
        details=details,
    )


def timed_out_trial(task: TrialTask, timeout: float, seconds: float) -> Trial:
    """The trial ``tuning.exit_policy.timeout`` stopped after ``seconds`` of running."""
    error = f"stopped by tuning.exit_policy.timeout ({timeout:g}s) after {seconds:.1f}s in this trial"
    return failed_trial(task, error, seconds, status=TIMED_OUT)


@dataclass
class WorkerContext:
    """What every trial of a run shares, sent to each worker once.

    ``backend`` is the backend's entry-point name (workers load it through the same entry points)
    or, for an engine that is not registered, the Backend itself. The evaluator travels without its
    backend; :meth:`bind` gives it the worker's.
    """

    backend: Any
    model: Any
    tensors: Any  # op name -> calibrated tensors (the space's), for the range rule
    evaluator: Any
    objective: Any
    bench_dataloader: Any
    q_dataloader: Any
    q_func: Any = None
    _bound: bool = field(default=False, repr=False)

    def bind(self) -> None:
        if self._bound:
            return
        if isinstance(self.backend, str):
            from lpot import plugins

            self.backend = plugins.backend_by_name(self.backend)
        self.evaluator.backend = self.backend
        self._bound = True

    def run(self, task: TrialTask) -> Trial:
        from lpot.engine import Stats

        self.bind()
        artifacts = task.artifacts or {}
        stats = {a: Stats.from_dict(d, artifacts.get(a)) for a, d in (task.stats or {}).items()}

        def quantize(recipe: Recipe) -> Any:
            return self.backend.quantize(
                self.model, recipe, stats, self.tensors, train=self.q_func, calibration=self.q_dataloader
            )

        def measure(model: Any) -> tuple[float | None, dict[str, float]]:
            return measure_objective(self.objective, self.backend, model, self.bench_dataloader)

        trial, _ = execute_trial(task, quantize, self.evaluator.evaluate, measure)
        return trial


def measure_objective(
    objective: Any, backend: Any, model: Any, dataloader: Any
) -> tuple[float | None, dict[str, float]]:
    """The objective of ``model`` (None where it needs data and there is none) and its parts
    (the raw figures behind a weighted objective)."""
    from lpot.objectives import objective_parts

    if dataloader is None and objective.name != "model_size":
        return None, {}
    value = objective.measure(backend, model, dataloader or [])
    return value, objective_parts(objective, value)


def worker_context(job: Any) -> WorkerContext:
    """The :class:`WorkerContext` of a tuning job, without progress bars and without live backends."""
    from lpot.tuning.progress import without_progress as plain

    evaluator = copy.copy(job.evaluator)
    evaluator.backend = None
    if evaluator.dataloader is not None:
        evaluator.dataloader = plain(evaluator.dataloader)
    return WorkerContext(
        backend=job.backend.registered or job.backend,
        model=job.model,
        tensors=dict(job.space.tensors),
        evaluator=evaluator,
        objective=job.objective,
        bench_dataloader=plain(job.bench_dataloader),
        q_dataloader=plain(job.q_dataloader),
        q_func=job.q_func,
    )


def pack_context(
    context: WorkerContext, executor: str, dumps: Callable[[Any], bytes] = pickle.dumps
) -> bytes:
    """``context`` serialized for the workers, or a :class:`ConfigError` naming what cannot be sent."""
    try:
        return dumps(context)
    except Exception as whole:
        evaluator = context.evaluator
        eval_func = evaluator.eval_func
        parts: list[tuple[str, Any]] = [
            (f"eval_func {_name(eval_func)}", eval_func),
            ("the evaluation dataloader (eval_dataloader)", evaluator.dataloader),
            ("the evaluation metric", evaluator.metric),
            ("the evaluator", evaluator),
            ("q_func", context.q_func),
            ("the calibration dataloader (q_dataloader)", context.q_dataloader),
            ("the performance dataloader", context.bench_dataloader),
            ("the objective", context.objective),
            ("the FP32 model", context.model),
            ("the backend", context.backend),
        ]
        for what, value in parts:  # name the first part that cannot be sent
            if value is None:
                continue
            try:
                dumps(value)
            except Exception as exc:
                raise ConfigError(unserializable(what, executor, f"{type(exc).__name__}: {exc}")) from exc
        problem = f"{type(whole).__name__}: {whole}"
        raise ConfigError(unserializable("the tuning job", executor, problem)) from whole


def unserializable(what: str, executor: str, problem: str) -> str:
    return (
        f"the {executor!r} executor runs trials in worker processes, so {what} must be sent to them, "
        f"and it cannot be ({problem}). Make it importable: a module-level function or an instance of a "
        "module-level class (not a lambda, a nested function, or an object holding an open session, file "
        "or connection), with its module importable by the workers; or tune serially with "
        f"tuning.executor: serial (or {{name: {executor}, fallback_to_serial: true}} to fall back to "
        "serial automatically when this happens)."
    )


def _name(func: Any) -> str:
    if func is None:
        return ""
    return getattr(func, "__qualname__", None) or type(func).__qualname__


class InlineExecutor:
    """The serial executor: trials run in the driver, in the order submitted, when waited for."""

    name = "serial"
    remote = False

    def __init__(self, run: Callable[[TrialTask], Trial]) -> None:
        self.run = run
        self.workers = 1
        self._queue: deque[TrialTask] = deque()

    @property
    def busy(self) -> int:
        return len(self._queue)

    def submit(self, task: TrialTask) -> None:
        self._queue.append(task)

    def wait(self) -> list[tuple[TrialTask, Trial]]:
        task = self._queue.popleft()
        return [(task, self.run(task))]

    def close(self) -> None:
        self._queue.clear()


def create_executor(config: Any) -> RemoteExecutor:
    """A remote executor for ``tuning.executor`` (``local`` or ``ray``), to be started with a payload."""
    if config.name == "local":
        from lpot.tuning.executors.local import LocalExecutor

        return LocalExecutor(
            workers=config.workers, cores_per_worker=config.cores_per_worker, max_retries=config.max_retries
        )
    if config.name == "ray":
        from lpot.tuning.executors.ray_cluster import RayExecutor

        return RayExecutor(
            workers=config.workers,
            cores_per_worker=config.cores_per_worker,
            address=config.address,
            max_retries=config.max_retries,
        )
    raise ConfigError(f"tuning.executor.name: expected local or ray here, got {config.name!r}")
