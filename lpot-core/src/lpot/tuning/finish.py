"""The end of a run: the chosen model, its figures, the warnings, the history marked, the artifacts.

The result is always returned: when every trial failed it is the FP32 model with status ``failed``;
when writing ``best_model/`` fails (a full disk) the error is a warning of the result, never the
loss of a finished run.
"""

from __future__ import annotations

import logging
from typing import Any

from lpot.goal import Goal
from lpot.objectives import Objective, measured_batch
from lpot.tensorboard import write_tensorboard
from lpot.trial import Trial
from lpot.tuning.context import RunContext
from lpot.tuning.executors import measure_objective
from lpot.tuning.monitor import Monitor
from lpot.tuning.result import Status, TuningResult

log = logging.getLogger("lpot")


def finish(
    ctx: RunContext, monitor: Monitor, goal: Goal, baseline_objective: float | None, *, remote: bool
) -> TuningResult:
    job = ctx.job
    status, reason = monitor.outcome()
    trials = monitor.trials  # the ones that count: what a serial run has, whatever ran in parallel
    best = monitor.best
    kept = ""  # why the tuned model was returned rather than its finalized form
    if best is None:
        recipe = job.space.default_recipe().fallback(job.space.ops)
        model, accuracy, objective = job.model, goal.baseline, baseline_objective
    else:
        recipe, (model, objective) = best.recipe, _best_model(ctx, best, remote)
        model, accuracy, objective, kept = _finalized(ctx, goal, best, model, objective)
    warnings = _warnings(job.objective, baseline_objective, objective, status) + ([kept] if kept else [])
    if best is not None and not recipe.quantized_ops() and not _other_precision(recipe):
        warnings.insert(
            0,
            "the returned recipe quantizes no op: the model is the FP32 one (no INT8 recipe met the "
            "goal, or the backend quantizes none of its ops)",
        )
    if job.performance_only:
        warnings.insert(
            0, "accuracy was not evaluated (tuning.exit_policy.performance_only): check it yourself"
        )
    for text in warnings:
        log.warning(text)
    result = TuningResult(
        model=model,
        recipe=recipe,
        status=status,
        baseline_accuracy=goal.baseline,
        accuracy=accuracy,
        goal=goal.threshold,
        higher_is_better=goal.higher_is_better,
        trials=list(trials),
        best_trial=best,
        objective_name=job.objective.name,
        baseline_objective=baseline_objective,
        objective=objective,
        calibration_passes=ctx.store.passes,
        new_calibration_passes=ctx.store.new_passes,
        backend_name=job.backend.name,
        workspace=job.workspace,
        elapsed_s=monitor.elapsed(),
        stop_reason=reason,
        warnings=warnings,
        uncounted_trials=sorted(monitor.surplus.values(), key=lambda t: t.index),
        objective_unit=job.objective.unit,
        objective_batch_size=measured_batch(job.objective),
        criterion=f"{job.criterion.kind} {job.criterion.value:g}",
        _objective_higher_is_better=job.objective.higher_is_better,
        _backend=job.backend,
    )
    _save(ctx, result)  # the artifacts first: the history says "finished" only once they are in place
    _mark(ctx, result, model)
    if job.tensorboard and model is not job.model:
        _tensorboard(ctx, result)
    return result


def _other_precision(recipe: Any) -> bool:
    """A recipe that leaves INT8 for another low precision (BF16 ops, a BF16 model family)."""
    return any(c.activation.dtype == "bf16" for c in recipe.ops.values()) or "bf16" in str(recipe.options)


def _best_model(ctx: RunContext, best: Trial, remote: bool) -> tuple[Any, float | None]:
    job = ctx.job
    model = ctx.models.get(best.fingerprint)
    if model is None:  # the best trial ran in a worker or was replayed: rebuild it, no recalibration
        model = ctx.quantize(best.recipe)
    objective = best.objective
    if best.met and (objective is None or remote):
        # a worker measured on its own cores; FP32 was measured here, on all of ours
        objective = measure_objective(job.objective, job.backend, model, job.bench_dataloader)[0]
    return model, objective


def _finalized(
    ctx: RunContext, goal: Goal, best: Trial, model: Any, objective: float | None
) -> tuple[Any, float | None, float | None, str]:
    """The best model in the form it is deployed (``Backend.finalize``: PyTorch compiles a pt2e
    graph), scored and measured again, so the result's figures are the returned model's own.
    Where finalizing fails, or the finalized model scores worse (misses a goal the tuned one met)
    or runs slower, the tuned model is returned, with the reason as the last item (else empty)."""
    job = ctx.job
    accuracy = best.accuracy

    def tuned(why: str) -> tuple[Any, float | None, float | None, str]:
        return model, accuracy, objective, f"returning the model as tuned: {why}"

    try:
        final = job.backend.finalize(model)
        if final is model:
            return model, accuracy, objective, ""
        log.info("finalized the best model (%s); scoring it again", job.backend.name)
        value = accuracy if job.performance_only else job.evaluator.evaluate(final).value
        measured = None
        if objective is not None:
            measured = measure_objective(job.objective, job.backend, final, job.bench_dataloader)[0]
    except Exception as exc:  # a compiler missing or failing must not cost the tuned model
        return tuned(f"finalizing it failed ({type(exc).__name__}: {exc})")
    if value is not None and accuracy is not None and _worse(goal, best.met, value, accuracy):
        return tuned(f"its finalized form scored {value:.4g} against {accuracy:.4g}")
    if measured is not None and objective is not None and _slower(job.objective, measured, objective):
        unit, name = job.objective.unit, job.objective.name
        return tuned(f"its finalized form measured {measured:.4g} against {objective:.4g} {unit} on {name}")
    ctx.events.emit("finalized", accuracy=value, objective=measured)
    return final, value, objective if measured is None else measured, ""


SCORE_TOLERANCE = 1e-3  # relative: compiled kernels round differently (MiniLM: cosine 0.97898 vs 0.97897)


def _worse(goal: Goal, met: bool, value: float, accuracy: float) -> bool:
    """A finalized model is refused where it misses a goal the tuned one met or, where none met
    it, scores worse than the tuned one beyond rounding (:data:`SCORE_TOLERANCE`)."""
    if met:
        return not goal.met(value)
    return goal.oriented(value) < goal.oriented(accuracy) - SCORE_TOLERANCE * abs(accuracy)


SLOWER_MARGIN = 0.10  # each figure is a median ratio to FP32, whose spread stops at 5 % when quiet


def _slower(objective: Objective, measured: float, tuned: float) -> bool:
    """Finalizing is for speed: a form that measures clearly worse on the objective (beyond the
    measurement's noise) is not the one to return; inductor's per-call cost can outweigh its
    fusions on a model of a few small layers (a 3-Linear MLP: 1.3-1.7 ms a call compiled, where
    FP32 eager takes 0.15 ms)."""
    if objective.higher_is_better:
        return measured < tuned * (1 - SLOWER_MARGIN)
    return measured > tuned * (1 + SLOWER_MARGIN)


def _mark(ctx: RunContext, result: TuningResult, model: Any) -> None:
    job = ctx.job
    data = ctx.inspection_data()
    sensitivity = {}
    if data is not None and model is not job.model:
        sensitivity = job.backend.op_errors(job.model, model, result.recipe.quantized_ops(), data)
    ctx.history.write_metadata(
        {
            "status": str(result.status),
            "stop_reason": result.stop_reason,
            "best_trial": result.best_trial.index if result.best_trial else None,
            "goal": result.goal,
            "higher_is_better": result.higher_is_better,
            "objective_unit": job.objective.unit,
            "sensitivity": sensitivity,
            "warnings": result.warnings,
        }
    )


def _save(ctx: RunContext, result: TuningResult) -> None:
    try:
        result.save(ctx.job.workspace / "best_model")
    except Exception as exc:  # the run's result must survive a failed write (disk full, ...)
        text = f"could not save best_model in {ctx.job.workspace}: {type(exc).__name__}: {exc}"
        log.warning(text)
        result.warnings.append(text)
        ctx.events.emit("save failed", error=text)


def _tensorboard(ctx: RunContext, result: TuningResult) -> None:
    job = ctx.job
    logdir = write_tensorboard(
        job.workspace / "tensorboard",
        job.backend,
        job.model,
        result.model,
        result.recipe.quantized_ops(),
        ctx.inspection_data() or [],
        step=result.best_trial.index if result.best_trial else 0,
    )
    ctx.events.emit("tensorboard", logdir=str(logdir))


def _warnings(objective: Objective, baseline: float | None, tuned: float | None, status: str) -> list[str]:
    out = []
    if status == Status.FAILED:
        out.append("every trial failed: the result is the FP32 model (see the trials for the errors)")
    elif status != Status.MET:
        out.append(f"the accuracy goal was not met ({status}); returning the most accurate recipe found")
    if baseline and tuned and not objective.higher_is_better and tuned > baseline:
        from lpot.report.figures import ratio_phrase

        change = ratio_phrase(baseline, tuned, objective.unit, objective.higher_is_better)
        out.append(
            f"the tuned model is WORSE than FP32 on {objective.name}: {tuned:.4g} vs {baseline:.4g} "
            f"{objective.unit} ({change})"
        )
    return out
