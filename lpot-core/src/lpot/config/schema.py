"""The configuration schema: small frozen dataclasses, each validated where it is built.

YAML (LPOT 1.x layout) is one way to fill them (see ``loader.py``); Python code may build them
directly. Values that are lists in YAML ("tune over these") are tuples here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from lpot.errors import ConfigError
from lpot.recipe import APPROACHES

# LPOT framework names -> (backend entry point, backend model-wise format)
FRAMEWORKS: dict[str, tuple[str, str | None]] = {
    "onnxrt_qlinearops": ("onnxrt", "qoperator"),
    "onnxrt_qdqops": ("onnxrt", "qdq"),
    "onnxrt_integerops": ("onnxrt", "integer"),
    "onnxruntime": ("onnxrt", None),
    "onnxrt": ("onnxrt", None),
    "pytorch": ("pytorch", None),
    "pytorch_fx": ("pytorch", "fx"),
    "pytorch_ipex": ("pytorch", "ipex"),
    "tensorflow": ("tensorflow", None),
    "keras": ("tensorflow", "keras"),
    "mxnet": ("mxnet", None),
}


def _choice(value: Any, allowed: Any, where: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}: expected one of {', '.join(map(str, allowed))}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    name: str = "model"
    framework: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.framework is not None:
            _choice(self.framework, FRAMEWORKS, "model.framework")

    @property
    def backend_name(self) -> str | None:
        return FRAMEWORKS[self.framework][0] if self.framework else None

    @property
    def framework_format(self) -> str | None:
        return FRAMEWORKS[self.framework][1] if self.framework else None


@dataclass(frozen=True, kw_only=True)
class TensorRules:
    """User limits on an op's activation/weight settings: ``{"dtype": ("uint8",), ...}``."""

    activation: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    weight: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not self.activation and not self.weight

    def to_dict(self) -> dict[str, Any]:
        return {
            t: {k: list(v) for k, v in getattr(self, t).items()}
            for t in ("activation", "weight")
            if getattr(self, t)
        }


@dataclass(frozen=True, kw_only=True)
class CalibrationConfig:
    sampling_size: tuple[int, ...] = (100,)
    dataloader: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.sampling_size or any(not isinstance(s, int) or s < 1 for s in self.sampling_size):
            raise ConfigError(
                f"quantization.calibration.sampling_size: expected positive integers, got {list(self.sampling_size)}"
            )


@dataclass(frozen=True, kw_only=True)
class QuantizationConfig:
    approach: str = "post_training_static_quant"
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    model_wise: TensorRules = field(default_factory=TensorRules)
    op_wise: Mapping[str, TensorRules] = field(default_factory=dict)
    recipes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _choice(self.approach, APPROACHES, "quantization.approach")


@dataclass(frozen=True, kw_only=True)
class MetricConfig:
    """``{topk: 1}`` becomes ``MetricConfig(name="topk", params={"k": 1})``."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AccuracyConfig:
    metric: MetricConfig | None = None
    dataloader: Mapping[str, Any] | None = None
    postprocess: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class PerformanceConfig:
    warmup: int = 5
    iteration: int = 50
    cores_per_instance: int | None = None
    num_of_instance: int = 1
    dataloader: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    accuracy: AccuracyConfig | None = None
    performance: PerformanceConfig | None = None


@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    name: str = "basic"
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class AccuracyCriterion:
    """At most ``value`` loss, relative to the FP32 baseline or absolute, in the metric's direction."""

    kind: str = "relative"
    value: float = 0.01
    higher_is_better: bool | None = None  # None: the metric decides (eval_func: higher)

    def __post_init__(self) -> None:
        _choice(self.kind, ("relative", "absolute"), "tuning.accuracy_criterion")
        if self.value < 0 or (self.kind == "relative" and self.value >= 1):
            bound = "0 <= value < 1" if self.kind == "relative" else "value >= 0"
            raise ConfigError(f"tuning.accuracy_criterion.{self.kind}: expected {bound}, got {self.value!r}")

    def goal(self, baseline: float, higher_is_better: bool) -> float:
        """The worst accuracy still accepted."""
        margin = abs(baseline) * self.value if self.kind == "relative" else self.value
        return baseline - margin if higher_is_better else baseline + margin

    def is_met(self, baseline: float, accuracy: float, higher_is_better: bool) -> bool:
        goal = self.goal(baseline, higher_is_better)
        return accuracy >= goal if higher_is_better else accuracy <= goal


@dataclass(frozen=True, kw_only=True)
class ExitPolicy:
    """``timeout`` in seconds (0: stop at the first recipe that meets the goal), ``max_trials``."""

    timeout: float = 0.0
    max_trials: int = 100

    def __post_init__(self) -> None:
        if self.timeout < 0:
            raise ConfigError(f"tuning.exit_policy.timeout: expected seconds >= 0, got {self.timeout!r}")
        if self.max_trials < 1:
            raise ConfigError(
                f"tuning.exit_policy.max_trials: expected a positive integer, got {self.max_trials!r}"
            )


@dataclass(frozen=True, kw_only=True)
class WorkspaceConfig:
    path: str = "./lpot_workspace"
    resume: str | None = None


@dataclass(frozen=True, kw_only=True)
class TuningConfig:
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    accuracy_criterion: AccuracyCriterion = field(default_factory=AccuracyCriterion)
    objective: str = "performance"
    exit_policy: ExitPolicy = field(default_factory=ExitPolicy)
    random_seed: int = 1978
    workspace: WorkspaceConfig = field(default_factory=WorkspaceConfig)
    tensorboard: bool = False


@dataclass(frozen=True, kw_only=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    device: str = "cpu"
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    tensorboard: bool = False
    version: str | None = None
    extra_sections: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        _choice(self.device, ("cpu", "gpu"), "device")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (sorted, tuples as lists), without ``source``."""
        data = _plain(self)
        data.pop("source", None)
        return data

    def hash(self) -> str:
        """sha256 of the settings that decide a run's results (not where it is stored)."""
        data = self.to_dict()
        data["tuning"].pop("workspace", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
