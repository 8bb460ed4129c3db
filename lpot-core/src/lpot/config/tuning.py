"""Schema of the ``tuning`` section: strategy, accuracy criterion, exit policy, workspace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from lpot.config import _checks as c
from lpot.config._checks import validated, without_none
from lpot.goal import Goal

# tuning keys of later LPOT releases lpot accepts and keeps (in ``TuningConfig.extra``) without using.
TUNING_EXTRA_KEYS = ("diagnosis",)

_set = object.__setattr__


@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    """A strategy by name (an ``lpot.strategies`` entry point) and its parameters."""

    name: str = "basic"
    params: Mapping[str, Any] = field(default_factory=dict)

    @validated
    def __post_init__(self) -> None:
        c.text(self.name, "name")
        params = c.mapping(self.params, "params") or {}
        if "name" in params:
            raise c.InvalidField("params", "must not contain 'name' (it is the strategy's name)")
        _set(self, "params", params)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass(frozen=True, kw_only=True)
class AccuracyCriterion:
    """At most ``value`` loss against the FP32 baseline, ``relative`` (a fraction) or ``absolute``.

    ``higher_is_better=None`` lets the metric decide (an ``eval_func`` counts as higher-is-better).
    ``value`` also accepts LPOT's percent strings (``"1%"``).
    """

    kind: str = "relative"
    value: float = 0.01
    higher_is_better: bool | None = None

    @validated
    def __post_init__(self) -> None:
        c.choice(self.kind, ("relative", "absolute"), "kind")
        value = self.value
        if isinstance(value, str) and value.strip().endswith("%"):
            try:
                value = float(value.strip()[:-1]) / 100
            except ValueError:
                pass
        bound = "a fraction 0 <= value < 1 (0.01 is 1%)" if self.kind == "relative" else "a number >= 0"
        value = c.number(value, self.kind, minimum=0.0, what=bound)
        if self.kind == "relative" and value >= 1:
            raise c.InvalidField(self.kind, f"expected {bound}, got {value!r}")
        _set(self, "value", value)
        if self.higher_is_better is not None:
            c.boolean(self.higher_is_better, "higher_is_better")

    def to_goal(self, baseline: float, higher_is_better: bool) -> Goal:
        """The run's :class:`~lpot.goal.Goal` once the FP32 baseline is known (a relative margin
        uses ``abs(baseline)``)."""
        if self.kind == "relative":
            return Goal.relative(baseline, self.value, higher_is_better)
        return Goal.absolute(baseline, self.value, higher_is_better)

    def to_dict(self) -> dict[str, Any]:
        return without_none({self.kind: self.value, "higher_is_better": self.higher_is_better})


@dataclass(frozen=True, kw_only=True)
class ExitPolicy:
    """``timeout`` in seconds: 0 (LPOT's default) means no time limit and stop at the first recipe
    that meets the goal; above 0, keep looking for a better one until the time is up.
    ``performance_only`` (LPOT): accuracy is not evaluated at all (no eval data or eval_func is
    needed); every recipe counts as meeting the goal, so the result is the model-wise default (no
    timeout) or the recipe with the best objective found within the budget, with a warning."""

    timeout: float = 0.0
    max_trials: int = 100
    performance_only: bool = False

    @validated
    def __post_init__(self) -> None:
        _set(self, "timeout", c.number(self.timeout, "timeout", minimum=0.0, what="seconds >= 0"))
        c.integer(self.max_trials, "max_trials")
        c.boolean(self.performance_only, "performance_only")

    def to_dict(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "max_trials": self.max_trials,
            "performance_only": self.performance_only,
        }


@dataclass(frozen=True, kw_only=True)
class WorkspaceConfig:
    """Where history and artifacts go (LPOT's ``resume`` key is read and ignored: see the loader)."""

    path: str = "./lpot_workspace"

    @validated
    def __post_init__(self) -> None:
        _set(self, "path", c.text(self.path, "path"))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path}


class ExecutorKind(str, Enum):
    """Where trials run (``tuning.executor.name``)."""

    SERIAL = "serial"
    LOCAL = "local"
    RAY = "ray"

    __str__ = str.__str__
    __format__ = str.__format__


EXECUTORS = tuple(k.value for k in ExecutorKind)
EXECUTOR_KEYS = ("name", "workers", "cores_per_worker", "address", "fallback_to_serial", "max_retries")


@dataclass(frozen=True, kw_only=True)
class ExecutorConfig:
    """Where trials run. ``serial`` (default): in this process, one after the other. ``local``:
    ``workers`` processes on this machine, each pinned to ``cores_per_worker`` cores. ``ray``: Ray
    tasks on the cluster at ``address`` (``auto``: the one this machine belongs to), else on a
    local Ray. ``workers`` defaults to as many as the cores allow. Parallel executors send the
    eval_func to the workers; when that is impossible (a lambda, an open session) the run stops
    with the reason, or tunes serially with ``fallback_to_serial: true``. A trial whose worker dies
    is run again up to ``max_retries`` times, then recorded as failed. YAML also accepts the name
    alone (``executor: local``).

    Latency (the ``performance`` objective) of a trial is measured in its worker, on that worker's
    ``cores_per_worker`` cores: compare trials with each other, not with a measurement on the whole
    machine (the result's objective is measured again in the driver, like the FP32 baseline)."""

    name: str = ExecutorKind.SERIAL.value
    workers: int | None = None
    cores_per_worker: int | None = None
    address: str | None = None
    fallback_to_serial: bool = False
    max_retries: int = 2

    @validated
    def __post_init__(self) -> None:
        _set(self, "name", ExecutorKind(c.choice(self.name, EXECUTORS, "name")).value)
        if self.workers is not None:
            c.integer(self.workers, "workers")
        if self.cores_per_worker is not None:
            c.integer(self.cores_per_worker, "cores_per_worker")
        if self.address is not None:
            c.text(self.address, "address")
        c.boolean(self.fallback_to_serial, "fallback_to_serial")
        c.integer(self.max_retries, "max_retries", minimum=0)
        if self.name == "serial" and self.workers not in (None, 1):
            raise c.InvalidField(
                "workers",
                f"the serial executor runs one trial at a time, got {self.workers}; use name: local or ray",
            )
        if self.address is not None and self.name != "ray":
            raise c.InvalidField("address", f"only the ray executor connects to a cluster, not {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "workers": self.workers,
            "cores_per_worker": self.cores_per_worker,
            "address": self.address,
        }
        defaults = {"fallback_to_serial": False, "max_retries": 2}
        out.update({k: getattr(self, k) for k, v in defaults.items() if getattr(self, k) != v})
        return without_none(out)


def _executor(value: Any) -> ExecutorConfig:
    """An ExecutorConfig from itself, its name, or its mapping ``{name: local, workers: 2, ...}``."""
    if isinstance(value, ExecutorConfig):
        return value
    if isinstance(value, str):
        return c.nested("executor", ExecutorConfig, name=value)
    data = c.mapping(value, "executor", "such as {name: local, workers: 2}") or {}
    c.check_keys(data, EXECUTOR_KEYS, prefix="executor.")
    return c.nested("executor", ExecutorConfig, **{k: v for k, v in data.items() if v is not None})


@dataclass(frozen=True, kw_only=True)
class TuningConfig:
    """How to search. ``objective`` names an ``lpot.objectives`` entry point (not checked here), or
    weighs several: ``{performance: 0.7, model_size: 0.3}`` (each normalised by its FP32 value, see
    ``lpot.objectives.Weighted``). ``staged_evaluation`` (None: where safe; see
    ``lpot.tuning.evaluation.Staging``) evaluates trials on a slice first. ``data_version`` names the
    data for resume: without it lpot reads the evaluation data once more at start to fingerprint it
    (samples, shapes, dtypes, bytes); with it, changing the data without changing the name is yours.
    ``extra`` keeps later LPOT keys lpot accepts without using (``diagnosis``)."""

    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    accuracy_criterion: AccuracyCriterion = field(default_factory=AccuracyCriterion)
    objective: str | Mapping[str, float] = "performance"
    staged_evaluation: bool | None = None
    exit_policy: ExitPolicy = field(default_factory=ExitPolicy)
    random_seed: int = 1978
    data_version: str | None = None
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    tensorboard: bool = False
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @validated
    def __post_init__(self) -> None:
        c.instance(self.strategy, StrategyConfig, "strategy")
        c.instance(self.accuracy_criterion, AccuracyCriterion, "accuracy_criterion")
        if isinstance(self.objective, Mapping):
            _set(self, "objective", _weights(self.objective))
        else:
            c.text(self.objective, "objective")
        if self.staged_evaluation is not None:
            c.boolean(self.staged_evaluation, "staged_evaluation")
        c.instance(self.exit_policy, ExitPolicy, "exit_policy")
        c.integer(self.random_seed, "random_seed", minimum=0)
        if self.data_version is not None:
            _set(self, "data_version", c.text(str(self.data_version), "data_version"))
        c.instance(self.workspace, WorkspaceConfig, "workspace")
        c.boolean(self.tensorboard, "tensorboard")
        _set(self, "executor", _executor(self.executor))
        extra = c.mapping(self.extra, "extra") or {}
        c.check_keys(extra, TUNING_EXTRA_KEYS)
        _set(self, "extra", extra)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.to_dict(),
            "accuracy_criterion": self.accuracy_criterion.to_dict(),
            "objective": dict(self.objective) if isinstance(self.objective, Mapping) else self.objective,
            **without_none({"staged_evaluation": self.staged_evaluation}),
            "exit_policy": self.exit_policy.to_dict(),
            "random_seed": self.random_seed,
            **without_none({"data_version": self.data_version}),
            "tensorboard": self.tensorboard,
            "workspace": self.workspace.to_dict(),
            **({"executor": self.executor.to_dict()} if self.executor != ExecutorConfig() else {}),
            **self.extra,
        }


def _weights(value: Mapping[Any, Any]) -> dict[str, float]:
    """``{objective name: weight > 0}``, at least one pair (``tuning.objective`` in its weighted form)."""
    if not value:
        raise c.InvalidField(
            "objective", "expected {name: weight} pairs such as {performance: 0.7, model_size: 0.3}"
        )
    out = {}
    for name, weight in value.items():
        c.text(name, "objective")
        out[name] = c.number(weight, f"objective.{name}", minimum=0.0, what="a weight > 0")
        if out[name] <= 0:
            raise c.InvalidField(f"objective.{name}", f"expected a weight > 0, got {weight!r}")
    return out
