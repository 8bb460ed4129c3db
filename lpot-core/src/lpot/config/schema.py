"""The configuration schema: small frozen dataclasses, each validated (and normalized) where it is built.

YAML in the LPOT 1.x layout is one way to fill them (``loader.py``); Python code may build them
directly and gets the same checks, with errors naming the class (``ExitPolicy.max_trials: ...``).
Values that are lists in YAML ("tune over these") are tuples here. ``to_dict()`` gives back the
YAML layout, so ``load_config(cfg.to_dict()) == cfg``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lpot.config import _checks as c
from lpot.config._checks import DATALOADER, validated, without_none
from lpot.config.evaluation import (
    AccuracyConfig,
    EvaluationConfig,
    MetricConfig,
    PerformanceConfig,
)
from lpot.config.tuning import (
    AccuracyCriterion,
    ExitPolicy,
    StrategyConfig,
    TuningConfig,
    WorkspaceConfig,
)
from lpot.recipe import ALGORITHMS, APPROACHES, DTYPES, GRANULARITIES, SCHEMES

__all__ = [
    "AccuracyConfig",
    "AccuracyCriterion",
    "CalibrationConfig",
    "Config",
    "EvaluationConfig",
    "ExitPolicy",
    "MetricConfig",
    "ModelConfig",
    "PerformanceConfig",
    "QuantizationConfig",
    "StrategyConfig",
    "TensorRules",
    "TuningConfig",
    "WorkspaceConfig",
]

DEVICES = ("cpu", "gpu")
# Sections of later LPOT releases, kept as raw mappings for the features that will use them.
RAW_SECTIONS = ("pruning", "distillation", "graph_optimization", "mixed_precision", "benchmark", "nas")
TENSOR_KEYS: dict[str, tuple[str, ...]] = {
    "dtype": DTYPES,
    "scheme": SCHEMES,
    "granularity": GRANULARITIES,
    "algorithm": ALGORITHMS,
}
# Spellings users bring from other tools, normalized to lpot's vocabulary (ORT calls KL "entropy").
ALIASES: dict[str, dict[str, str]] = {
    "dtype": {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"},
    "algorithm": {"entropy": "kl"},
}

_set = object.__setattr__


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Which model. ``framework`` is a backend's name or one of the LPOT names a backend answers to
    (``onnxrt_qlinearops``, ``pytorch_fx``...; backends publish them as ``lpot.frameworks`` entry
    points, so it is checked when tuning starts, not here: a config loads where the backend is not
    installed); None finds the backend by the model. ``outputs``: the output the metric scores
    (first name; required for multi-output models with a built-in metric); ``inputs``: input names
    the data must provide."""

    name: str = "model"
    framework: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    @validated
    def __post_init__(self) -> None:
        c.text(self.name, "name")
        if self.framework is not None:
            c.identifier(self.framework, "framework")
        _set(self, "inputs", c.texts(self.inputs, "inputs"))
        _set(self, "outputs", c.texts(self.outputs, "outputs"))

    @property
    def scored_output(self) -> str | None:
        """The output a built-in metric scores (the first of ``outputs``), None: the only output."""
        return self.outputs[0] if self.outputs else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.framework is not None:
            out["framework"] = self.framework
        return {**out, "inputs": list(self.inputs), "outputs": list(self.outputs)}


@dataclass(frozen=True, kw_only=True)
class TensorRules:
    """User limits on an op's activation/weight settings: ``{"dtype": ("uint8", "fp32"), ...}``.

    Each value is a tuple of allowed values (a YAML scalar is a one-value tuple); an absent key
    leaves that setting to the backend.
    """

    activation: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    weight: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @validated
    def __post_init__(self) -> None:
        for tensor in ("activation", "weight"):
            rules = c.mapping(getattr(self, tensor), tensor, "such as {dtype: [int8, fp32]}") or {}
            c.check_keys(rules, TENSOR_KEYS, prefix=f"{tensor}.")
            normalized = {
                attr: _allowed(attr, rules[attr], f"{tensor}.{attr}")
                for attr in TENSOR_KEYS
                if rules.get(attr) is not None
            }
            _set(self, tensor, normalized)

    def is_empty(self) -> bool:
        return not self.activation and not self.weight

    def to_dict(self) -> dict[str, Any]:
        return {t: {k: list(v) for k, v in getattr(self, t).items()} for t in ("activation", "weight")}


def _allowed(attr: str, value: Any, key: str) -> tuple[str, ...]:
    values = [ALIASES.get(attr, {}).get(v, v) for v in c.texts(value, key)]
    if not values:
        raise c.InvalidField(key, f"expected at least one of {', '.join(TENSOR_KEYS[attr])}")
    return c.unique(c.choice(v, TENSOR_KEYS[attr], key) for v in values)


def _rules(value: Any, key: str) -> TensorRules:
    """A TensorRules, or its YAML form ``{activation: {...}, weight: {...}}``."""
    if isinstance(value, TensorRules):
        return value
    data = c.mapping(value, key, "with activation and/or weight") or {}
    c.check_keys(data, ("activation", "weight"), prefix=f"{key}.")
    return c.nested(key, TensorRules, **data)


@dataclass(frozen=True, kw_only=True)
class CalibrationConfig:
    """``sampling_size``: calibration sample counts to tune over (YAML ``50, 100``, ``[50, 100]`` or ``100``)."""

    sampling_size: tuple[int, ...] = (100,)
    dataloader: Mapping[str, Any] | None = None

    @validated
    def __post_init__(self) -> None:
        value = self.sampling_size
        items = c.split_flow(value) if isinstance(value, str) else value
        items = list(items) if isinstance(items, (list, tuple)) else [items]
        sizes = [int(v) if isinstance(v, str) and v.isdecimal() else v for v in items]
        if not sizes or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in sizes):
            raise c.InvalidField(
                "sampling_size",
                f"expected a positive integer or a list of them (e.g. '50, 100'), got {c.show(value)}",
            )
        _set(self, "sampling_size", c.unique(sizes))
        _set(self, "dataloader", c.mapping(self.dataloader, "dataloader", DATALOADER))

    def to_dict(self) -> dict[str, Any]:
        return without_none({"sampling_size": list(self.sampling_size), "dataloader": self.dataloader})


@dataclass(frozen=True, kw_only=True)
class QuantizationConfig:
    """What to quantize and how; ``op_wise`` maps op names to rules that override ``model_wise``."""

    approach: str = "post_training_static_quant"
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    model_wise: TensorRules = field(default_factory=TensorRules)
    op_wise: Mapping[str, TensorRules] = field(default_factory=dict)

    @validated
    def __post_init__(self) -> None:
        c.choice(self.approach, APPROACHES, "approach")
        c.instance(self.calibration, CalibrationConfig, "calibration")
        _set(self, "model_wise", _rules(self.model_wise, "model_wise"))
        op_wise = c.mapping(self.op_wise, "op_wise", "of op names to {activation: ..., weight: ...}") or {}
        for name in op_wise:
            if not isinstance(name, str) or not name:
                raise c.InvalidField("op_wise", f"keys must be op names (strings), got {c.show(name)}")
        _set(self, "op_wise", {name: _rules(v, f"op_wise.{name}") for name, v in op_wise.items()})

    def to_dict(self) -> dict[str, Any]:
        out = {
            "approach": self.approach,
            "calibration": self.calibration.to_dict(),
            "model_wise": self.model_wise.to_dict(),
            "op_wise": {name: rules.to_dict() for name, rules in self.op_wise.items()},
        }
        return without_none(out)


@dataclass(frozen=True, kw_only=True)
class Config:
    """A whole configuration. ``source`` (the file it came from, for messages) does not take part
    in equality, ``to_dict()`` or ``hash()``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    device: str = "cpu"
    quantization: QuantizationConfig = field(default_factory=QuantizationConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)
    tensorboard: bool = False
    extra_sections: Mapping[str, Any] = field(default_factory=dict)
    version: str | None = None
    source: str | None = field(default=None, compare=False)

    @validated
    def __post_init__(self) -> None:
        c.instance(self.model, ModelConfig, "model")
        c.choice(self.device, DEVICES, "device")
        c.instance(self.quantization, QuantizationConfig, "quantization")
        c.instance(self.evaluation, EvaluationConfig, "evaluation")
        c.instance(self.tuning, TuningConfig, "tuning")
        c.boolean(self.tensorboard, "tensorboard")
        extra = c.mapping(self.extra_sections, "extra_sections") or {}
        c.check_keys(extra, RAW_SECTIONS)
        _set(self, "extra_sections", extra)
        if self.version is not None:
            if isinstance(self.version, bool) or not isinstance(self.version, (str, int, float)):
                raise c.InvalidField("version", f"expected a version such as 1.0, got {c.show(self.version)}")
            _set(self, "version", str(self.version))
        if self.source is not None:
            _set(self, "source", os.fspath(self.source))

    def to_dict(self) -> dict[str, Any]:
        """The LPOT YAML layout, defaults filled in, as plain JSON-able data (``load_config`` reads it back)."""
        out: dict[str, Any] = {"version": self.version} if self.version is not None else {}
        out.update(
            model=self.model.to_dict(),
            device=self.device,
            quantization=self.quantization.to_dict(),
            evaluation=self.evaluation.to_dict(),
            tuning=self.tuning.to_dict(),
            tensorboard=self.tensorboard,
        )
        out.update(self.extra_sections)
        return _plain(out)

    def hash(self) -> str:
        """sha256 of the settings that decide a run's results: not ``source``, ``tuning.workspace``
        nor the budget in ``tuning.exit_policy`` (a run cut by max_trials or timeout may be resumed
        with a bigger one; finished trials stay valid).

        Key order does not matter, except inside ``transform`` (a pipeline, applied in order).
        """
        data = self.to_dict()
        del data["tuning"]["workspace"]
        exit_policy = data["tuning"].pop("exit_policy", {})
        if exit_policy.get("performance_only"):  # not a budget: it decides what a trial is worth
            data["tuning"]["performance_only"] = True
        text = json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> Any:
    """Mappings -> dicts with str keys (order kept), sequences -> lists, other scalars -> str."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _canonical(value: Any, ordered: bool = False) -> Any:
    if isinstance(value, dict):
        items = [(k, _canonical(v, ordered=k == "transform")) for k, v in value.items()]
        return [list(kv) for kv in items] if ordered else dict(items)
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value
