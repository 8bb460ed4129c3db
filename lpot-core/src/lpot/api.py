"""``lpot.tune``: resolve what the user passed into one tuning job and run it."""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from lpot import plugins
from lpot.backend import Backend, as_backend
from lpot.config import Config, load_config
from lpot.data import check_reiterable, guarded
from lpot.errors import ConfigError, DataError
from lpot.isa import cpu_features
from lpot.objectives import Objective, Performance, bind_reference, create_objective
from lpot.recipe import Approach
from lpot.space import build_space
from lpot.strategies import Strategy, create_strategy
from lpot.tensorboard import require_writer
from lpot.tuning.context import TuningJob
from lpot.tuning.evaluation import make_evaluator
from lpot.tuning.loop import run
from lpot.tuning.progress import with_progress
from lpot.tuning.result import TuningResult

log = logging.getLogger("lpot")


def tune(
    model: Any,
    q_dataloader: Iterable[Any] | None = None,
    q_func: Callable[..., Any] | None = None,
    eval_dataloader: Iterable[Any] | None = None,
    eval_func: Callable[[Any], Any] | None = None,
    config: str | os.PathLike[str] | Mapping[str, Any] | Config | None = None,
    resume: bool | str | os.PathLike[str] = False,
    *,
    strategy: Strategy | None = None,
    objective: Objective | None = None,
    backend: Any = None,
    progress: bool = True,
) -> TuningResult:
    """Find a low-precision recipe for ``model`` that meets the accuracy criterion, best objective first.

    ``model`` is a native model or a path the backend understands; ``config`` a YAML path, a dict in
    the same layout, or a :class:`lpot.Config`. Evaluation is ``eval_func(model) -> float`` or the
    config's ``evaluation.accuracy.metric`` over ``eval_dataloader``. ``resume=True`` continues the
    run in the configured workspace (``resume="dir"`` names one). Always returns a result; see its
    ``status`` (met / budget_spent / exhausted).
    """
    cfg = load_config(config)
    if cfg.tuning.exit_policy.performance_only:
        eval_func, eval_dataloader = _not_evaluated, None
    q_dataloader, eval_dataloader, bench_dataloader = _loaders(cfg, q_dataloader, eval_dataloader, eval_func)
    chosen, settings = resolve_backend(model, cfg, backend)
    approach = _approach(cfg, settings, q_func)
    native = chosen.prepare(chosen.load(model), approach)
    evaluator = _evaluator(chosen, cfg, eval_func, eval_dataloader, progress)
    tensorboard = cfg.tensorboard or cfg.tuning.tensorboard
    if tensorboard:
        require_writer()  # fail now, not after hours of tuning
    workspace, resuming = _workspace(cfg, resume)
    job = TuningJob(
        backend=chosen,
        model=native,
        space=_space(chosen, native, cfg, approach, settings),
        strategy=strategy or create_strategy(cfg.tuning.strategy.name, dict(cfg.tuning.strategy.params)),
        evaluator=evaluator,
        objective=bind_reference(objective or _objective(cfg), native),
        criterion=cfg.tuning.accuracy_criterion,
        q_dataloader=with_progress(q_dataloader, "calibrating", progress),
        bench_dataloader=_first(bench_dataloader, eval_dataloader, q_dataloader),
        workspace=workspace,
        resume=resuming,
        max_trials=cfg.tuning.exit_policy.max_trials,
        timeout=cfg.tuning.exit_policy.timeout,
        seed=cfg.tuning.random_seed,
        config_hash=_resume_hash(cfg),
        run_metadata=_run_metadata(chosen, cfg, evaluator.description),
        progress=progress,
        tensorboard=tensorboard,
        q_func=q_func,
        executor=cfg.tuning.executor,
        performance_only=cfg.tuning.exit_policy.performance_only,
        data_version=cfg.tuning.data_version,
    )
    return run(job)


def _approach(cfg: Config, settings: dict[str, Any], q_func: Any) -> str:
    """The approach the framework name or the config asks for, checked against ``q_func``."""
    if cfg.device == "gpu":
        log.warning(
            "device: gpu is ignored: lpot's backends run on the CPU (no GPU device or execution provider "
            "is used), so this run tunes and measures on the CPU"
        )
    approach = settings.pop("approach", cfg.quantization.approach)
    if q_func is not None and approach != Approach.QAT:
        raise ConfigError(
            "q_func is the training function of quantization-aware training; set "
            "quantization.approach: quant_aware_training, or pass calibration data as q_dataloader"
        )
    return approach


def _loaders(cfg: Config, q_loader: Any, eval_loader: Any, eval_func: Any) -> tuple[Any, Any, Any]:
    """Calibration, evaluation and benchmark data: given or from the config, re-iterable, guarded."""
    q_loader, eval_loader, bench_loader = _config_loaders(cfg, q_loader, eval_loader, eval_func)
    check_reiterable(q_loader, "q_dataloader")
    check_reiterable(eval_loader, "eval_dataloader")
    return _guarded(cfg, q_loader, eval_loader, bench_loader)


def _space(backend: Backend, native: Any, cfg: Config, approach: str, settings: Mapping[str, Any]) -> Any:
    """The backend's capability for this model, narrowed by the config and the framework name."""
    return build_space(
        backend.capability(native, approach, _objective_name(cfg)),
        approach=approach,
        model_wise=cfg.quantization.model_wise,
        op_wise=cfg.quantization.op_wise,
        sampling_sizes=cfg.quantization.calibration.sampling_size,
        option_overrides={k: (v,) for k, v in settings.items()},
    )


def _evaluator(backend: Backend, cfg: Config, eval_func: Any, eval_dataloader: Any, progress: bool) -> Any:
    evaluator = make_evaluator(
        backend,
        eval_func=eval_func,
        eval_dataloader=eval_dataloader,
        metric_config=cfg.evaluation.accuracy.metric if cfg.evaluation.accuracy else None,
        higher_is_better=cfg.tuning.accuracy_criterion.higher_is_better,
        postprocess=_postprocess(cfg),
        staged=cfg.tuning.staged_evaluation,
        output=cfg.model.scored_output,
    )
    if evaluator.dataloader is not None:
        evaluator.dataloader = with_progress(evaluator.dataloader, "evaluating", progress)
    return evaluator


def resolve_backend(model: Any, cfg: Config, backend: Any = None) -> tuple[Backend, dict[str, Any]]:
    """The backend for ``model`` (given, named by ``model.framework``, or found by the model) and
    the settings its framework name implies (``onnxrt_integerops``: the dynamic approach)."""
    if backend is not None:
        chosen = as_backend(backend)
        return chosen, dict(chosen.engine.aliases.get(cfg.model.framework or "", {}))
    if cfg.model.framework:
        return plugins.backend_for_framework(cfg.model.framework)
    return plugins.backend_for(model), {}


def _not_evaluated(model: Any) -> float:
    """``exit_policy.performance_only``: every model scores the same, so every recipe meets the goal."""
    return 0.0


def _objective_name(cfg: Config) -> str:
    objective = cfg.tuning.objective
    return objective if isinstance(objective, str) else "weighted"


def _resume_hash(cfg: Config) -> str:
    """The config hash a resume must match: where trials run (``tuning.executor``) does not change
    their results, so a run may be resumed on another executor or with more workers."""
    from dataclasses import replace

    from lpot.config.tuning import ExecutorConfig

    return replace(cfg, tuning=replace(cfg.tuning, executor=ExecutorConfig())).hash()


def _config_loaders(cfg: Config, q_loader: Any, eval_loader: Any, eval_func: Any) -> tuple[Any, Any, Any]:
    """Usage (a): dataloaders the config declares fill in the ones the caller did not pass."""
    from lpot.data.builder import build_dataloader

    seed = cfg.tuning.random_seed
    sections = {
        "quantization.calibration.dataloader": cfg.quantization.calibration.dataloader
        if q_loader is None
        else None,
        "evaluation.accuracy.dataloader": cfg.evaluation.accuracy.dataloader
        if eval_loader is None and eval_func is None and cfg.evaluation.accuracy
        else None,
        "evaluation.performance.dataloader": cfg.evaluation.performance.dataloader
        if cfg.evaluation.performance
        else None,
    }
    built = {}
    for where, section in sections.items():
        try:
            built[where] = build_dataloader(section, where=where, seed=seed) if section else None
        except DataError as exc:
            raise DataError(f"{cfg.source}: {exc}" if cfg.source else str(exc)) from None
    return (
        q_loader if q_loader is not None else built["quantization.calibration.dataloader"],
        eval_loader if eval_loader is not None else built["evaluation.accuracy.dataloader"],
        built["evaluation.performance.dataloader"],
    )


def _guarded(cfg: Config, q_loader: Any, eval_loader: Any, bench_loader: Any) -> tuple[Any, Any, Any]:
    """The loaders as lpot reads them: what they raise is a DataError naming them, and an
    evaluation pass stops at ``evaluation.accuracy.max_batches`` batches."""
    from lpot.config.evaluation import DEFAULT_MAX_BATCHES

    cap = cfg.evaluation.accuracy.max_batches if cfg.evaluation.accuracy else DEFAULT_MAX_BATCHES
    return (
        guarded(q_loader, "q_dataloader"),
        guarded(eval_loader, "eval_dataloader", cap, "evaluation.accuracy.max_batches"),
        guarded(bench_loader, "the performance dataloader"),
    )


def _first(*loaders: Any) -> Any:
    """The first loader given: latency is measured on performance, else evaluation, else calibration data."""
    return next((d for d in loaders if d is not None), None)


def _postprocess(cfg: Config) -> list[Any]:
    from lpot.data.builder import build_transforms

    post = cfg.evaluation.accuracy.postprocess if cfg.evaluation.accuracy else None
    if not post:
        return []
    try:
        return build_transforms(post.get("transform"), "evaluation.accuracy.postprocess.transform")
    except DataError as exc:
        raise DataError(f"{cfg.source}: {exc}" if cfg.source else str(exc)) from None


def _objective(cfg: Config) -> Objective:
    if cfg.tuning.objective == "performance":
        return Performance()
    return create_objective(cfg.tuning.objective)


def _workspace(cfg: Config, resume: bool | str | os.PathLike[str]) -> tuple[Path, bool]:
    if resume is True:
        return Path(cfg.tuning.workspace.path), True
    if resume:
        return Path(resume), True
    return Path(cfg.tuning.workspace.path), False


def _run_metadata(backend: Any, cfg: Config, evaluation: str) -> dict[str, Any]:
    versions = {"lpot-core": _version("lpot-core")}
    info = plugins.available("lpot.backends").get(backend.registered or "")
    if info is not None and info.distribution:
        versions[info.distribution] = _version(info.distribution)
    return {
        "backend": backend.name,
        "model_name": cfg.model.name,
        "versions": versions,
        "python": platform.python_version(),
        "cpu": cpu_features().describe(),
        "criterion": f"{cfg.tuning.accuracy_criterion.kind} {cfg.tuning.accuracy_criterion.value}",
        "objective": cfg.tuning.objective,
        "strategy": cfg.tuning.strategy.name,
        "evaluation": evaluation,
        "config": cfg.to_dict(),
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
