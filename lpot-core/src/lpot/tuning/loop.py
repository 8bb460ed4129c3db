"""The tuning loop: baseline, then propose → quantize → evaluate → record, until done.

Every finished trial is committed to the workspace history as soon as it finishes; a resumed run
replays those trials into the strategy instead of evaluating them again.

Where trials run is the executor's business (:mod:`lpot.tuning.executors`): ``serial`` runs each
in this process before the next is proposed; ``local`` and ``ray`` keep up to ``workers`` trials
in flight. The loop stays the one place that decides, and decides as a serial run would:

- results are told to the strategy, counted and weighed for the best *in proposal order*, however
  they finish; a strategy proposes several recipes at once only where they are independent
  (:class:`~lpot.strategies.base.Batch`), so a deterministic strategy proposes the same recipes;
- "stop at the first recipe that meets the goal" stops at the earliest *proposed* one; trials
  still in flight then (or started after the cut of a batch) finish and are recorded in the
  history and the result, but do not count for the best, so the answer is the serial one;
- a run killed with trials in flight resumes like a serial run: finished trials are replayed,
  the others run again (under the index they would have had).
"""

from __future__ import annotations

import logging
import math
import pickle
import shutil
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpot.backend import Backend
from lpot.errors import ConfigError, LpotError, QuantizationError
from lpot.objectives import Objective
from lpot.recipe import Recipe
from lpot.strategies.base import WAIT, Proposal, Strategy
from lpot.tensorboard import write_tensorboard
from lpot.tuning.calibration import CalibrationCache
from lpot.tuning.evaluation import Evaluator
from lpot.tuning.executors import (
    InlineExecutor,
    TrialTask,
    WorkerSetupError,
    create_executor,
    execute_trial,
    failed_trial,
    pack_context,
    worker_context,
)
from lpot.tuning.history import SCHEMA_VERSION, History, open_history
from lpot.tuning.progress import Progress, ProgressLoader
from lpot.tuning.result import BUDGET_SPENT, EXHAUSTED, MET, TuningResult
from lpot.tuning.runlog import RunLog, event
from lpot.tuning.sensitivity import op_errors
from lpot.tuning.space import TuningSpace
from lpot.tuning.trial import FAILED, OK, Trial

log = logging.getLogger("lpot")


@dataclass
class TuningJob:
    """Everything one run needs, resolved from the user's arguments and config."""

    backend: Backend
    model: Any
    space: TuningSpace
    strategy: Strategy
    evaluator: Evaluator
    objective: Objective
    criterion: Any  # lpot.config.AccuracyCriterion
    q_dataloader: Iterable[Any] | None
    bench_dataloader: Iterable[Any] | None
    workspace: Path
    resume: bool
    max_trials: int
    timeout: float
    seed: int
    config_hash: str
    run_metadata: dict[str, Any]
    progress: bool = True
    tensorboard: bool = False
    q_func: Any = None  # quantization-aware training: the user's training loop, given the prepared model
    executor: Any = None  # lpot.config.ExecutorConfig; None: serial


def run(job: TuningJob) -> TuningResult:
    started = time.monotonic()
    fingerprint = job.backend.fingerprint(job.model)
    history = open_history(job.workspace, resume=job.resume)
    try:
        if job.resume:
            history.check_same_run(job.config_hash, fingerprint)
        history.write_metadata(
            {
                **job.run_metadata,
                "config_hash": job.config_hash,
                "model_fingerprint": fingerprint,
                "schema_version": SCHEMA_VERSION,
                "status": "running",
            }
        )
        store = job.workspace / "calibration"
        if not job.resume and store.exists():
            shutil.rmtree(store)  # a fresh run may use other calibration data
        cache = CalibrationCache(
            job.backend, job.model, job.q_dataloader, store=store, model_fingerprint=fingerprint
        )
        with RunLog(job.workspace):
            event("run started", resume=job.resume, backend=job.backend.name, max_trials=job.max_trials)
            result = _Run(job, history, cache, started).execute()
            event(
                "run finished",
                status=result.status,
                reason=result.stop_reason,
                trials=len(result.trials),
                best_trial=result.best_trial.index if result.best_trial else None,
                calibration_passes=result.calibration_passes,
                elapsed_s=result.elapsed_s,
            )
            return result
    finally:
        history.close()


@dataclass
class _Pending:
    """A proposal waiting to be told to the strategy (in proposal order)."""

    ticket: int
    label: str
    recipe: Recipe
    key: str
    trial: Trial | None = None


class _AskTell:
    """ask()/tell() over a strategy that only has propose()/observe(): one proposal at a time."""

    parallel = False

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        self.open: int | None = None
        self.tickets = 0

    def ask(self) -> Proposal | None:
        if self.open is not None:
            return WAIT
        recipe = self.strategy.propose()
        if recipe is None:
            return None
        self.tickets += 1
        self.open = self.tickets
        return Proposal(self.tickets, self.strategy.label, recipe)

    def tell(self, ticket: int, trial: Trial) -> bool:
        if ticket != self.open:
            return False
        self.open = None
        self.strategy.observe(trial)
        return True


class _Run:
    def __init__(self, job: TuningJob, history: History, cache: CalibrationCache, started: float) -> None:
        self.job = job
        self.history = history
        self.cache = cache
        self.started = started
        self.trials: list[Trial] = []  # the trials that count, in proposal order
        self.surplus: dict[str, Trial] = {}  # ran (and recorded) but not counted: see the module doc
        self.models: dict[str, Any] = {}  # fingerprint -> quantized model, for the best so far only
        self.best: Trial | None = None
        self.inspected: dict[str, dict[str, float]] = {}  # recipe fingerprint -> op errors
        self.indices: set[int] = set()  # trial indices taken in the history
        self.remote = False

    def execute(self) -> TuningResult:
        executor = self._executor()  # before the baseline: an eval_func workers cannot load fails now
        try:
            return self._execute(executor)
        finally:
            executor.close()

    def _executor(self) -> Any:
        config = self.job.executor
        inline = InlineExecutor(self._run_inline)
        if config is None or config.name == "serial":
            return inline
        executor = create_executor(config)
        try:
            payload = pack_context(
                worker_context(self.job), config.name, getattr(executor, "dumps", pickle.dumps)
            )
            executor.start(payload)
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
            event("executor fallback", executor=config.name, reason=str(exc))
            return inline
        self.remote = True
        event(
            "executor started",
            executor=executor.name,
            workers=executor.workers,
            cores_per_worker=getattr(executor, "cores_per_worker", None),
        )
        log.info("%s executor: %d workers", executor.name, executor.workers)
        return executor

    def _execute(self, executor: Any) -> TuningResult:
        job = self.job
        baseline, baseline_objective = self._baseline()
        hib = job.evaluator.higher_is_better
        goal = job.criterion.goal(baseline, hib)
        recorded = self.history.trials()
        finished = {t.fingerprint: t for t in recorded}
        self.indices = {t.index for t in recorded}
        use_inspector = getattr(job.strategy, "use_inspector", None)
        if callable(use_inspector):
            use_inspector(self._inspect)
        strategy: Any = (
            job.strategy if callable(getattr(job.strategy, "ask", None)) else _AskTell(job.strategy)
        )
        capacity = executor.workers if getattr(strategy, "parallel", True) else 1
        if capacity < executor.workers:
            log.warning(
                "the %r strategy proposes one recipe at a time: trials run one at a time on the %d workers",
                job.strategy.name,
                executor.workers,
            )
        if hasattr(job.strategy, "workers"):
            job.strategy.workers = capacity
        job.strategy.setup(job.space, list(finished.values()), seed=job.seed, higher_is_better=hib)
        stop_on_first = job.timeout <= 0
        refines = not getattr(job.strategy, "stop_at_first_met", True)  # goes on improving after "met"
        pending: deque[_Pending] = deque()  # proposals not yet told, in proposal order
        running: dict[str, list[_Pending]] = {}  # fingerprint -> proposals waiting for its trial
        known: dict[str, Trial] = {}  # trials of this run (run or replayed), by fingerprint
        counted: set[str] = set()
        distinct = 0  # recipes of this run: what max_trials counts
        stopping = decided = False
        status, reason = EXHAUSTED, "the strategy tried every recipe it would"
        with Progress(job.max_trials, enabled=job.progress, baseline=baseline, goal=goal) as bar:
            while True:
                while pending and pending[0].trial is not None:  # tell in proposal order
                    item = pending.popleft()
                    trial = item.trial
                    if decided or not strategy.tell(item.ticket, trial):
                        if item.key not in counted:
                            self.surplus.setdefault(item.key, trial)
                        continue
                    if item.key in counted:  # proposed twice in one run: told the known result, no new trial
                        continue
                    counted.add(item.key)
                    self.surplus.pop(item.key, None)
                    self.trials.append(trial)
                    self._consider(trial)
                    bar.update(trial, self.best)
                    if trial.met and stop_on_first and not refines:
                        status, reason = MET, f"trial {trial.index} met the goal"
                        decided = stopping = True
                proposal = None
                # a finished trial that meets the goal, waiting for an earlier one: the run stops at one
                # of them, so anything proposed now would only be speculative
                ending = (
                    stop_on_first
                    and not refines
                    and any(p.trial is not None and p.trial.met for p in pending)
                )
                if not stopping and not ending and executor.busy < capacity:
                    if distinct >= job.max_trials:
                        status, reason = BUDGET_SPENT, f"max_trials={job.max_trials} reached"
                        stopping = True
                    elif job.timeout > 0 and time.monotonic() - self.started > job.timeout:
                        status, reason = BUDGET_SPENT, f"timeout of {job.timeout:g}s reached"
                        stopping = True
                    else:
                        proposal = strategy.ask()
                        if proposal is None:
                            reason = getattr(job.strategy, "stop_reason", None) or reason
                            stopping = True
                if proposal is not None and proposal is not WAIT:
                    key = proposal.recipe.fingerprint()
                    item = _Pending(proposal.ticket, proposal.label, proposal.recipe, key)
                    pending.append(item)
                    if key in known:
                        item.trial = known[key]
                    elif key in running:
                        running[key].append(item)
                    else:
                        distinct += 1
                        if key in finished:  # replayed from the history of an interrupted run
                            item.trial = known[key] = finished[key]
                        else:
                            task = TrialTask(self._index(distinct), item.label, item.recipe, baseline, hib)
                            done = self._submit(executor, task)
                            if done is None:
                                running[key] = [item]
                            else:
                                item.trial = known[key] = done
                    continue
                if executor.busy == 0:
                    if stopping:
                        break
                    if pending and pending[0].trial is not None:
                        continue
                    raise RuntimeError(f"{job.strategy.name}: waits for a result while no trial is running")
                for task, trial in executor.wait():
                    self._record(trial)
                    key = task.recipe.fingerprint()
                    known[key] = trial
                    for item in running.pop(key, []):
                        item.trial = trial
        if self.best is not None and self.best.met:
            if not stop_on_first:
                reason = f"best of {len(self.trials)} trials within the budget; search ended: {reason}"
            elif status != MET:  # a refining strategy went on after the first recipe that met the goal
                first = next(t for t in self.trials if t.met)
                reason = f"trial {first.index} met the goal, then the strategy refined it; {reason}"
            status = MET
        if self.surplus:
            event("uncounted trials", indices=sorted(t.index for t in self.surplus.values()))
        return self._result(status, reason, baseline, baseline_objective, goal)

    def _index(self, n: int) -> int:
        """The index of the n-th recipe of this run: ``n`` when free (what an uninterrupted run gives
        it, also when a resumed parallel run redoes a trial lost in flight), else the next unused."""
        top = max(self.indices, default=0)
        index = n if n not in self.indices and n <= top + 1 else top + 1
        self.indices.add(index)
        return index

    def _submit(self, executor: Any, task: TrialTask) -> Trial | None:
        """Hand ``task`` to the executor; a remote one gets the calibration statistics with it.
        Returns the failed trial when the statistics cannot be computed (as a serial trial would fail)."""
        if self.remote:
            t0 = time.monotonic()
            try:
                stats = self.cache.stats_for(task.recipe)
            except LpotError as exc:
                if not isinstance(exc, QuantizationError):
                    raise
                stats, error = None, f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                stats, error = None, f"{type(exc).__name__}: {exc}"
            if stats is None:
                trial = failed_trial(task, error, time.monotonic() - t0)
                self._record(trial)
                return trial
            task = TrialTask(**{**task.__dict__, "stats": {a: st.to_dict() for a, st in stats.items()}})
        executor.submit(task)
        return None

    def _record(self, trial: Trial) -> None:
        """Commit a finished trial to the history now, so a crash right after loses nothing."""
        if trial.status == FAILED:
            log.warning("trial %d (%s) failed: %s", trial.index, trial.label, trial.error)
        self.history.append(trial)
        event("trial", **{k: v for k, v in trial.to_row().items() if k != "recipe"})

    def _run_inline(self, task: TrialTask) -> Trial:
        return self._trial(task.index, task.label, task.recipe, task.baseline, task.higher_is_better)

    def _baseline(self) -> tuple[float, float | None]:
        cached = self.history.baseline()
        if cached is not None:
            return cached
        t0 = time.monotonic()
        accuracy = self.job.evaluator(self.job.model)
        evaluate_s = time.monotonic() - t0
        objective = self._measure(self.job.model)
        self.history.write_baseline(accuracy, objective, evaluate_s)
        event("baseline", accuracy=accuracy, objective=objective, evaluate_s=evaluate_s)
        log.info("FP32 baseline: accuracy %.4f, %s %s", accuracy, self.job.objective.name, objective)
        return accuracy, objective

    def _measure(self, model: Any) -> float | None:
        if self.job.bench_dataloader is None and self.job.objective.name != "model_size":
            return None
        return self.job.objective.measure(self.job.backend, model, self.job.bench_dataloader or [])

    def _trial(self, index: int, label: str, recipe: Recipe, baseline: float, hib: bool) -> Trial:
        task = TrialTask(index, label, recipe, baseline, hib)
        trial, model = execute_trial(
            task,
            self._quantize,
            self.job.evaluator,
            lambda accuracy: self.job.criterion.is_met(baseline, accuracy, hib),
            self._measure,
        )
        if model is not None and self._better(trial):
            self.models = {trial.fingerprint: model}
        return trial

    def _inspect(self, recipe: Recipe) -> dict[str, float]:
        """Per-op output error of ``recipe`` vs FP32, for strategies that rank ops by it (mse, ...).

        Quantizes with the cached calibration and evaluates nothing. Kept in the history, so a
        resumed run tells the strategy exactly what the interrupted one was told.
        """
        key = recipe.fingerprint()
        if not self.inspected:
            self.inspected = dict(self.history.metadata().get("op_errors") or {})
        if key in self.inspected:
            return dict(self.inspected[key])
        data = self.job.q_dataloader or self.job.bench_dataloader
        if isinstance(data, ProgressLoader):
            data = data.loader  # a few batches: no progress bar
        errors: dict[str, float] = {}
        if data is not None and recipe.quantized_ops():
            try:
                model = self._quantize(recipe)
            except Exception as exc:  # a recipe the backend cannot build has no op errors
                log.warning("inspection of a recipe failed, it cannot be ranked by op error: %s", exc)
            else:
                errors = op_errors(self.job.backend, self.job.model, model, recipe.quantized_ops(), data)
        self.inspected[key] = errors
        self.history.write_metadata({"op_errors": self.inspected})
        event("inspected", fingerprint=key, ops=len(errors))
        return dict(errors)

    def _sensitivity(self, model: Any, recipe: Recipe) -> dict[str, float]:
        """Per-op relative error of the chosen model vs FP32, for reports."""
        data = self.job.q_dataloader or self.job.bench_dataloader
        if data is None or model is self.job.model:
            return {}
        return op_errors(self.job.backend, self.job.model, model, recipe.quantized_ops(), data)

    def _quantize(self, recipe: Recipe) -> Any:
        stats = self.cache.stats_for(recipe)
        if self.job.q_func is not None:  # only backends that train (QAT) take it
            return self.job.backend.quantize(
                self.job.model, recipe, stats, self.job.q_dataloader, q_func=self.job.q_func
            )
        return self.job.backend.quantize(self.job.model, recipe, stats, self.job.q_dataloader)

    def _better(self, trial: Trial) -> bool:
        """Met beats not met; among met, the better objective; among not met, the better accuracy."""
        if trial.status != OK:
            return False
        best = self.best
        if best is None:
            return True
        if trial.met != best.met:
            return trial.met
        if trial.met and trial.objective is not None and best.objective is not None:
            sign = -1 if self.job.objective.higher_is_better else 1
            return sign * trial.objective < sign * best.objective
        if trial.met:
            return False
        hib = self.job.evaluator.higher_is_better
        return _oriented(trial.accuracy, hib) > _oriented(best.accuracy, hib)

    def _consider(self, trial: Trial) -> None:
        if self._better(trial):
            self.best = trial

    def _result(
        self, status: str, reason: str, baseline: float, baseline_objective: float | None, goal: float
    ) -> TuningResult:
        job = self.job
        trials = self.trials
        if self.surplus:  # recorded, not counted: listed with the others, by index
            trials = sorted([*self.trials, *self.surplus.values()], key=lambda t: t.index)
        ok = [t for t in trials if t.status == OK]
        if trials and not ok:
            raise QuantizationError(
                f"every one of {len(trials)} trials failed; the first error: {trials[0].error}"
            )
        best = self.best
        if best is None:
            recipe, model, accuracy, objective = (
                job.space.default_recipe().fallback(job.space.ops),
                job.model,
                baseline,
                baseline_objective,
            )
        else:
            recipe, accuracy, objective = best.recipe, best.accuracy, best.objective
            model = self.models.get(best.fingerprint)
            if model is None:  # the best trial was replayed from history: rebuild it, no recalibration
                model = self._quantize(recipe)
            if best.met and (objective is None or self.remote):
                # a worker measured on its own cores; FP32 was measured here, on all of ours
                objective = self._measure(model)
        warnings = _warnings(job.objective, baseline_objective, objective, status)
        for w in warnings:
            log.warning(w)
        result = TuningResult(
            model=model,
            recipe=recipe,
            status=status,
            baseline_accuracy=baseline,
            accuracy=accuracy,
            goal=goal,
            higher_is_better=job.evaluator.higher_is_better,
            trials=list(trials),
            best_trial=best,
            objective_name=job.objective.name,
            baseline_objective=baseline_objective,
            objective=objective,
            calibration_passes=self.cache.passes,
            backend_name=job.backend.name,
            workspace=job.workspace,
            elapsed_s=time.monotonic() - self.started,
            stop_reason=reason,
            warnings=warnings,
            _backend=job.backend,
        )
        self.history.write_metadata(
            {
                "status": status,
                "stop_reason": reason,
                "best_trial": best.index if best else None,
                "goal": goal,
                "higher_is_better": job.evaluator.higher_is_better,
                "objective_unit": job.objective.unit,
                "sensitivity": self._sensitivity(model, recipe),
                "warnings": warnings,
            }
        )
        result.save(job.workspace / "best_model")
        if job.tensorboard and model is not job.model:
            data = job.q_dataloader or job.bench_dataloader
            logdir = write_tensorboard(
                job.workspace / "tensorboard",
                job.backend,
                job.model,
                model,
                recipe.quantized_ops(),
                data or [],
                step=best.index if best else 0,
            )
            event("tensorboard", logdir=str(logdir))
        return result


def _oriented(accuracy: float, higher_is_better: bool) -> float:
    if math.isnan(accuracy):
        return -math.inf
    return accuracy if higher_is_better else -accuracy


def _warnings(objective: Objective, baseline: float | None, tuned: float | None, status: str) -> list[str]:
    out = []
    if status != MET:
        out.append(f"the accuracy goal was not met ({status}); returning the most accurate recipe found")
    if baseline and tuned and not objective.higher_is_better and tuned > baseline:
        out.append(
            f"the tuned model is WORSE than FP32 on {objective.name}: {tuned:.4g} vs {baseline:.4g} "
            f"{objective.unit} ({baseline / tuned:.2f}x)"
        )
    return out
