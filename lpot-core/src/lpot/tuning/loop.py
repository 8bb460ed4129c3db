"""The tuning loop: baseline, then ask → run → tell, until the monitor says stop.

Every finished trial is committed to the workspace history as soon as it finishes; a resumed run
replays those trials into the strategy instead of evaluating them again.

Where trials run is the executor's business (:mod:`lpot.tuning.executors`): ``serial`` runs each
in this process before the next is proposed; ``local`` and ``ray`` keep up to ``workers`` trials in
flight. The loop stays the one place that decides, and decides as a serial run would:

- the :class:`~lpot.tuning.scheduler.Scheduler` releases results in *proposal order*, however they
  finish; a strategy proposes several recipes at once only where they are independent (a
  :class:`~lpot.strategies.base.Batch`), so a deterministic strategy proposes the same recipes;
- the :class:`~lpot.tuning.monitor.Monitor` counts them, keeps the best and decides when to stop:
  "stop at the first recipe that meets the goal" stops at the earliest *proposed* one; trials still
  in flight then finish and are recorded in the history (and ``TuningResult.uncounted_trials``),
  but do not count: ``TuningResult.trials`` is what a serial run has;
- a run killed with trials in flight resumes like a serial run: finished trials are replayed, the
  others run again (under the index they would have had).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass

from lpot.errors import ConfigError, EvaluationError, LpotError, QuantizationError, WorkerSetupError
from lpot.events import RunLog
from lpot.goal import Goal
from lpot.recipe import Recipe
from lpot.strategies.base import WAIT, SearchContext
from lpot.trial import FAILED, TIMED_OUT, Trial
from lpot.tuning.calibration import CalibrationStore
from lpot.tuning.context import RunContext, TuningJob
from lpot.tuning.deadline import TrialTimeout, deadline
from lpot.tuning.executors import (
    Executor,
    InlineExecutor,
    TrialTask,
    create_executor,
    execute_trial,
    failed_trial,
    measure_objective,
    pack_context,
    timed_out_trial,
    worker_context,
)
from lpot.tuning.finish import finish
from lpot.tuning.history import SCHEMA_VERSION, open_history
from lpot.tuning.inspection import Inspector
from lpot.tuning.monitor import Monitor
from lpot.tuning.progress import Progress
from lpot.tuning.result import TuningResult
from lpot.tuning.scheduler import Scheduler
from lpot.tuning.workspace import check_path, move_previous_run, run_lock

__all__ = ["TuningJob", "run"]
log = logging.getLogger("lpot")


def run(job: TuningJob) -> TuningResult:
    """One run, holding the workspace's lock from the first read to the last write."""
    started = time.monotonic()
    workspace = check_path(job.workspace)
    with run_lock(workspace):
        if not job.resume:
            moved = move_previous_run(workspace)
            if moved is not None:
                log.warning(
                    "%s held a previous run: its history and artifacts were moved to %s "
                    "(to continue a run instead, pass --resume / resume=True)",
                    workspace,
                    moved,
                )
        return _run_locked(job, started)


def _run_locked(job: TuningJob, started: float) -> TuningResult:
    fingerprint = job.backend.fingerprint(job.model)
    data = data_identity(job)
    history = open_history(job.workspace, resume=job.resume)
    try:
        if job.resume:
            history.check_same_run(job.config_hash, fingerprint, data)
        history.write_metadata(
            {
                **job.run_metadata,
                "config_hash": job.config_hash,
                "model_fingerprint": fingerprint,
                "data": data,
                "schema_version": SCHEMA_VERSION,
                "status": "running",
                "pid": os.getpid(),
                "host": socket.gethostname(),
            }
        )
        with RunLog(job.workspace) as events:
            store = CalibrationStore(
                job.backend,
                job.model,
                job.q_dataloader,
                folder=job.workspace / "calibration",
                model_fingerprint=fingerprint,
                events=events,
                passes=int(history.metadata().get("calibration_passes", 0)) if job.resume else 0,
                on_pass=lambda n: history.write_metadata({"calibration_passes": n}),
                calibrated_options=job.space.calibrated_options,
            )
            if not job.resume:
                store.prune(job.space.sampling_sizes)
            events.emit(
                "run started",
                resume=job.resume,
                backend=job.backend.name,
                max_trials=job.max_trials,
                pid=os.getpid(),
            )
            result = _Run(RunContext(job, history, store, events, started)).execute()
            events.emit(
                "run finished",
                status=str(result.status),
                reason=result.stop_reason,
                trials=len(result.trials),
                best_trial=result.best_trial.index if result.best_trial else None,
                calibration_passes=result.calibration_passes,
                elapsed_s=result.elapsed_s,
            )
            return result
    finally:
        history.close()


def data_identity(job: TuningJob) -> dict[str, str]:
    """What the run's data is, as read: samples and a hash of the calibration data (the samples
    calibration uses) and of the evaluation data, or the user's ``data_version``. Evaluation data
    is read once more for this (no inference); an ``eval_func``'s own data is the user's to version."""
    from lpot.data import LimitedLoader
    from lpot.data.fingerprint import data_fingerprint
    from lpot.tuning.progress import without_progress as plain

    out: dict[str, str] = {}
    if job.data_version:
        out["version"] = job.data_version
    if job.q_dataloader is not None:
        size = max(job.space.sampling_sizes)
        out["calibration"] = data_fingerprint(LimitedLoader(plain(job.q_dataloader), size), labels=False)
    if job.evaluator.dataloader is not None and not job.data_version:
        out["evaluation"] = data_fingerprint(plain(job.evaluator.dataloader))
    return out


@dataclass
class Baseline:
    accuracy: float
    objective: float | None


class _Run:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.job = ctx.job
        self.remote = False
        self.monitor: Monitor | None = None

    def execute(self) -> TuningResult:
        executor = self._executor()  # before the baseline: an eval_func workers cannot load fails now
        try:
            baseline = self._baseline()
            goal = self.job.criterion.to_goal(baseline.accuracy, self.job.evaluator.higher_is_better)
            traits = self.job.strategy.traits
            self.monitor = Monitor(
                goal,
                self.job.objective.higher_is_better,
                self.job.max_trials,
                self.job.timeout,
                refines=traits.refines_after_met,
                started=self.ctx.started,
            )
            self._search(executor, goal)
            return finish(self.ctx, self.monitor, goal, baseline.objective, remote=self.remote)
        finally:
            executor.close()

    def _search(self, executor: Executor, goal: Goal) -> None:
        job, monitor = self.job, self.monitor
        assert monitor is not None
        # a trial the timeout stopped is run again: with more time it may finish
        replay = {t.fingerprint: t for t in self.ctx.history.trials() if t.status != TIMED_OUT}
        capacity = executor.workers if job.strategy.traits.parallel_safe else 1
        inspect = Inspector(self.ctx) if job.strategy.traits.wants_inspection else None
        job.strategy.setup(SearchContext(job.space, goal, list(replay.values()), job.seed, capacity, inspect))
        scheduler = Scheduler(executor, replay, lambda *a: self._submit(executor, goal, *a), self._record)
        if job.timeout > 0 and hasattr(executor, "set_deadline"):
            executor.set_deadline(monitor.started + job.timeout, job.timeout)
        with Progress(
            job.max_trials, enabled=job.progress, baseline=goal.baseline, goal=goal.threshold
        ) as bar:
            while True:
                for item in scheduler.release():
                    assert item.trial is not None
                    if item.trial.status == TIMED_OUT:
                        monitor.timed_out(item.trial)
                        continue
                    used = not monitor.decided and job.strategy.tell(item.ticket, item.trial)
                    if monitor.count(item.trial, used):
                        bar.update(item.trial, monitor.best)
                ending = monitor.stop_on_first and not monitor.refines and scheduler.met_waiting()
                if not monitor.stopping and not ending and scheduler.busy < capacity:
                    if monitor.budget_left(scheduler.distinct):
                        proposal = job.strategy.ask()
                        if proposal is None:
                            monitor.search_ended(job.strategy.stop_reason)
                        elif proposal is not WAIT:
                            scheduler.add(proposal)
                            continue
                if scheduler.busy == 0:
                    if monitor.stopping:
                        break
                    if scheduler.head_finished():
                        continue
                    raise RuntimeError(f"{job.strategy.name}: waits for a result while no trial is running")
                scheduler.collect()
        if monitor.surplus:
            self.ctx.events.emit(
                "uncounted trials", indices=sorted(t.index for t in monitor.surplus.values())
            )

    def _executor(self) -> Executor:
        config = self.job.executor
        inline = InlineExecutor(self._run_inline)
        if config is None or config.name == "serial":
            return inline
        executor = create_executor(config)
        try:
            executor.start(pack_context(worker_context(self.job), config.name, executor.dumps))
        except (ConfigError, WorkerSetupError) as exc:
            executor.close()
            if not config.fallback_to_serial:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(
                    f"{exc}. The workers must be able to import the eval_func (and whatever it uses): define "
                    "it in an importable module, or tune serially with tuning.executor: serial (or "
                    f"{{name: {config.name}, fallback_to_serial: true}} to fall back automatically)."
                ) from None
            log.warning("tuning serially instead of on the %r executor: %s", config.name, exc)
            self.ctx.events.emit("executor fallback", executor=config.name, reason=str(exc))
            return inline
        self.remote = True
        self.ctx.events.emit(
            "executor started",
            executor=executor.name,
            workers=executor.workers,
            cores_per_worker=executor.cores_per_worker,
        )
        log.info("%s executor: %d workers", executor.name, executor.workers)
        return executor

    def _submit(self, executor: Executor, goal: Goal, index: int, label: str, recipe: Recipe) -> Trial | None:
        """Hand a trial to the executor; a remote one gets the calibration statistics with it.
        Returns the failed trial when the statistics cannot be computed (as a serial trial would fail)."""
        task = TrialTask(index, label, recipe, goal)
        if self.remote:
            t0 = time.monotonic()
            try:
                stats = self.ctx.store.stats_for(recipe)
            except Exception as exc:
                if isinstance(exc, LpotError) and not isinstance(exc, QuantizationError):
                    raise
                trial = failed_trial(task, f"{type(exc).__name__}: {exc}", time.monotonic() - t0)
                self._record(trial)
                return trial
            task = TrialTask(
                index,
                label,
                recipe,
                goal,
                stats={a: st.to_dict() for a, st in stats.items()},
                artifacts={a: dict(st.artifacts) for a, st in stats.items()},
            )
        executor.submit(task)
        return None

    def _record(self, trial: Trial) -> None:
        """Commit a finished trial to the history now, so a crash right after loses nothing."""
        if trial.status == FAILED:  # said once, in full, in the summary's "failed trials"
            log.info("trial %d (%s) failed: %s", trial.index, trial.label, trial.error)
        self.ctx.history.append(trial)
        self.ctx.events.emit(
            "trial", **{k: v for k, v in trial.to_row().items() if k not in ("recipe", "details")}
        )
        parts = trial.details.get("objective_parts")
        if parts:
            name = "weighted objective" if "score" in parts else "objective measured"
            self.ctx.events.emit(name, trial=trial.index, **parts)
        if "slice_bound" in trial.details:
            self.ctx.events.emit(
                "staged evaluation",
                trial=trial.index,
                decided_on_slice=trial.details["on_slice"],
                bound=trial.details["slice_bound"],
                goal=trial.details.get("goal"),
                samples=trial.details.get("samples"),
            )

    def _run_inline(self, task: TrialTask) -> Trial:
        job = self.job
        t0 = time.monotonic()
        try:
            with deadline(self.monitor.remaining() if self.monitor else None):
                trial, model = execute_trial(
                    task,
                    self.ctx.quantize,
                    job.evaluator.evaluate,
                    lambda m: measure_objective(job.objective, job.backend, m, job.bench_dataloader),
                )
        except TrialTimeout:
            return timed_out_trial(task, job.timeout, time.monotonic() - t0)
        if model is not None and self.monitor is not None and self.monitor.better(trial):
            self.ctx.models = {trial.fingerprint: model}
        return trial

    def _baseline(self) -> Baseline:
        cached = self.ctx.history.baseline()
        if cached is not None:
            return Baseline(*cached)
        job = self.job
        t0 = time.monotonic()
        left = job.timeout - (t0 - self.ctx.started) if job.timeout > 0 else None
        try:
            with deadline(left):
                accuracy = job.evaluator(job.model)
        except TrialTimeout:
            raise EvaluationError(
                f"the FP32 baseline evaluation did not finish within tuning.exit_policy.timeout ({job.timeout:g}s): "
                "raise the timeout, or look at what keeps the evaluation from returning"
            ) from None
        evaluate_s = time.monotonic() - t0
        objective, parts = measure_objective(job.objective, job.backend, job.model, job.bench_dataloader)
        self.ctx.history.write_baseline(accuracy, objective, evaluate_s)
        self.ctx.events.emit("baseline", accuracy=accuracy, objective=objective, evaluate_s=evaluate_s)
        if parts:
            self.ctx.events.emit("weighted objective", trial=0, **parts)
        log.info("FP32 baseline: accuracy %.4f, %s %s", accuracy, job.objective.name, objective)
        return Baseline(accuracy, objective)
