"""The tuning loop: baseline, then propose → quantize → evaluate → record, until done.

Every finished trial is committed to the workspace history before the next one starts; a resumed
run replays those trials into the strategy instead of evaluating them again.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lpot.backend import Backend
from lpot.errors import EvaluationError, LpotError, QuantizationError
from lpot.objectives import Objective
from lpot.recipe import Recipe
from lpot.strategies.base import Strategy
from lpot.tensorboard import write_tensorboard
from lpot.tuning.calibration import CalibrationCache
from lpot.tuning.evaluation import Evaluator
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


class _Run:
    def __init__(self, job: TuningJob, history: History, cache: CalibrationCache, started: float) -> None:
        self.job = job
        self.history = history
        self.cache = cache
        self.started = started
        self.trials: list[Trial] = []
        self.models: dict[str, Any] = {}  # fingerprint -> quantized model, for the best so far only
        self.best: Trial | None = None
        self.inspected: dict[str, dict[str, float]] = {}  # recipe fingerprint -> op errors

    def execute(self) -> TuningResult:
        job = self.job
        baseline, baseline_objective = self._baseline()
        hib = job.evaluator.higher_is_better
        goal = job.criterion.goal(baseline, hib)
        finished = {t.fingerprint: t for t in self.history.trials()}
        next_index = max((t.index for t in finished.values()), default=0) + 1
        use_inspector = getattr(job.strategy, "use_inspector", None)
        if callable(use_inspector):
            use_inspector(self._inspect)
        job.strategy.setup(job.space, list(finished.values()), seed=job.seed, higher_is_better=hib)
        stop_on_first = job.timeout <= 0
        refines = not getattr(job.strategy, "stop_at_first_met", True)  # goes on improving after "met"
        seen: dict[str, Trial] = {}
        status, reason = EXHAUSTED, "the strategy tried every recipe it would"
        with Progress(job.max_trials, enabled=job.progress, baseline=baseline, goal=goal) as bar:
            while True:
                if len(self.trials) >= job.max_trials:
                    status, reason = BUDGET_SPENT, f"max_trials={job.max_trials} reached"
                    break
                if job.timeout > 0 and time.monotonic() - self.started > job.timeout:
                    status, reason = BUDGET_SPENT, f"timeout of {job.timeout:g}s reached"
                    break
                recipe = job.strategy.propose()
                if recipe is None:
                    reason = getattr(job.strategy, "stop_reason", None) or reason
                    break
                key = recipe.fingerprint()
                if key in seen:  # proposed twice in one run: tell the known result, no new trial
                    job.strategy.observe(seen[key])
                    continue
                if key in finished:
                    trial = finished[key]
                else:
                    trial = self._trial(next_index, job.strategy.label, recipe, baseline, hib)
                    next_index += 1
                    self.history.append(trial)
                    event("trial", **{k: v for k, v in trial.to_row().items() if k != "recipe"})
                seen[key] = trial
                self.trials.append(trial)
                self._consider(trial)
                bar.update(trial, self.best)
                job.strategy.observe(trial)
                if trial.met and stop_on_first and not refines:
                    status, reason = MET, f"trial {trial.index} met the goal"
                    break
        if self.best is not None and self.best.met:
            if not stop_on_first:
                reason = f"best of {len(self.trials)} trials within the budget; search ended: {reason}"
            elif status != MET:  # a refining strategy went on after the first recipe that met the goal
                first = next(t for t in self.trials if t.met)
                reason = f"trial {first.index} met the goal, then the strategy refined it; {reason}"
            status = MET
        return self._result(status, reason, baseline, baseline_objective, goal)

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
        t0 = time.monotonic()
        try:
            model = self._quantize(recipe)
        except LpotError as exc:
            if not isinstance(exc, QuantizationError):
                raise  # bad data or config: every trial would fail the same way
            return self._failed(index, label, recipe, f"{type(exc).__name__}: {exc}", time.monotonic() - t0)
        except Exception as exc:  # a backend bug on one recipe must not lose the run
            return self._failed(index, label, recipe, f"{type(exc).__name__}: {exc}", time.monotonic() - t0)
        t1 = time.monotonic()
        try:
            accuracy = self.job.evaluator(model)
        except EvaluationError as exc:
            return self._failed(index, label, recipe, f"evaluation: {exc}", t1 - t0)
        t2 = time.monotonic()
        met = self.job.criterion.is_met(baseline, accuracy, hib)
        objective = self._measure(model)  # for every trial: reports plot accuracy against it
        trial = Trial(
            index=index,
            recipe=recipe,
            label=label,
            accuracy=accuracy,
            met=met,
            objective=objective,
            status=OK,
            quantize_s=t1 - t0,
            evaluate_s=t2 - t1,
        )
        if self._better(trial):
            self.models = {trial.fingerprint: model}
        return trial

    def _failed(self, index: int, label: str, recipe: Recipe, error: str, seconds: float) -> Trial:
        log.warning("trial %d (%s) failed: %s", index, label, error)
        return Trial(
            index=index,
            recipe=recipe,
            label=label,
            accuracy=math.nan,
            met=False,
            status=FAILED,
            error=error,
            quantize_s=seconds,
        )

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
        ok = [t for t in self.trials if t.status == OK]
        if self.trials and not ok:
            raise QuantizationError(
                f"every one of {len(self.trials)} trials failed; the first error: {self.trials[0].error}"
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
            if objective is None and best.met:
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
            trials=list(self.trials),
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
