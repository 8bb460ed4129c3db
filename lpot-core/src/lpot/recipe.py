"""What can be quantized (Capability) and one concrete choice of how (Recipe).

Both keep the layout LPOT users know (``optypewise`` / ``opwise``, per-op ``activation`` and
``weight`` settings) and serialize to plain JSON, so history and artifacts never need pickle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

FP32 = "fp32"
BF16 = "bf16"
INT_DTYPES = ("int8", "uint8")
DTYPES = ("int8", "uint8", "fp32", "bf16", "fp16")
SCHEMES = ("sym", "asym")
GRANULARITIES = ("per_tensor", "per_channel")
ALGORITHMS = ("minmax", "kl", "percentile")


class Approach(str, Enum):
    """How a model is quantized: LPOT's ``quantization.approach`` values (compare equal to them)."""

    STATIC = "post_training_static_quant"
    DYNAMIC = "post_training_dynamic_quant"
    QAT = "quant_aware_training"

    __str__ = str.__str__  # messages and JSON show the LPOT name, not "Approach.STATIC"
    __format__ = str.__format__


APPROACHES = tuple(a.value for a in Approach)

JSONValue = Any


@dataclass(frozen=True, order=True)
class OpKey:
    """An op of the model: its unique node name and its op type (e.g. ``("conv1", "Conv")``)."""

    name: str
    op_type: str

    def __str__(self) -> str:
        return f"{self.name} ({self.op_type})"


@dataclass(frozen=True, kw_only=True)
class TensorConfig:
    """How one tensor (an op's activation or weight) is represented."""

    dtype: str
    scheme: str | None = None
    granularity: str | None = None
    algorithm: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TensorConfig:
        return cls(**{k: data[k] for k in ("dtype", "scheme", "granularity", "algorithm") if k in data})


@dataclass(frozen=True, kw_only=True)
class OpConfig:
    """The choice for one op. An activation dtype of ``fp32`` means the op falls back to FP32."""

    activation: TensorConfig
    weight: TensorConfig | None = None

    @property
    def is_fp32(self) -> bool:
        return self.activation.dtype == FP32

    @property
    def is_quantized(self) -> bool:
        return self.activation.dtype in INT_DTYPES

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"activation": self.activation.to_dict()}
        if self.weight is not None:
            out["weight"] = self.weight.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpConfig:
        weight = data.get("weight")
        return cls(
            activation=TensorConfig.from_dict(data["activation"]),
            weight=TensorConfig.from_dict(weight) if weight else None,
        )


FP32_OP = OpConfig(activation=TensorConfig(dtype=FP32), weight=None)


@dataclass(frozen=True, kw_only=True)
class TensorChoices:
    """The values a backend offers for one tensor of an op (capability, not a choice)."""

    dtype: tuple[str, ...]
    scheme: tuple[str, ...] = ()
    granularity: tuple[str, ...] = ()
    algorithm: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.__dict__.items() if v}


@dataclass(frozen=True, kw_only=True)
class OpCapability:
    """What one op (or op type) may become. The first value of each tuple is the default."""

    activation: TensorChoices
    weight: TensorChoices | None = None

    def default(self) -> OpConfig:
        """The first quantized choice: the model-wise starting point of every strategy."""
        return self.configs()[0]

    def configs(self) -> list[OpConfig]:
        """Every concrete quantized config this capability allows, defaults first."""
        acts = _expand(self.activation)
        weights: list[TensorConfig | None] = _expand(self.weight) if self.weight else [None]
        return [OpConfig(activation=a, weight=w) for a in acts if a.dtype != FP32 for w in weights]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"activation": self.activation.to_dict()}
        if self.weight is not None:
            out["weight"] = self.weight.to_dict()
        return out


def _expand(choices: TensorChoices) -> list[TensorConfig]:
    out = []
    for dtype in choices.dtype:
        if dtype == FP32:
            continue
        for scheme in choices.scheme or (None,):
            for granularity in choices.granularity or (None,):
                for algorithm in choices.algorithm or (None,):
                    out.append(
                        TensorConfig(dtype=dtype, scheme=scheme, granularity=granularity, algorithm=algorithm)
                    )
    return out


@dataclass(frozen=True, kw_only=True)
class Capability:
    """An engine's answer to "what could be quantized in this model, and how?".

    ``opwise`` lists every quantizable op in graph order with the choices the engine applies *per
    op*; a knob the framework only takes for the whole model is one of ``options`` instead (e.g. ONNX
    ``format``: ``qdq``/``qoperator``), each with its allowed values, default first, so that two
    recipes that differ are two different models. Options named ``<tensor>.<attr>``
    (``weight.granularity``) are the model-wise form of a tensor setting: a YAML ``model_wise`` rule
    narrows them like it narrows per-op choices. ``approaches`` are the approaches the engine
    supports for this model. ``last_resort`` names option values that leave INT8 altogether (a BF16
    model family): tried only after INT8 with op-wise fallback has failed, so a slower precision
    never wins just by being tried first. ``tensors`` maps an op name to the calibrated tensors its
    calibration algorithm ranges (its outputs, as the engine names them in :class:`Stats`): the core
    applies the one range rule with it (see :func:`lpot.engine.tensor_ranges`).
    ``calibrated_options`` names the options whose value changes the graph calibration runs on (a
    pass before quantization: SmoothQuant's alpha, cross-layer equalization); the core calibrates
    once per value (:attr:`lpot.engine.CalibrationSpec.graph`), not once per trial.
    """

    opwise: Mapping[OpKey, OpCapability]
    approaches: tuple[str, ...] = (Approach.STATIC.value,)
    options: Mapping[str, tuple[JSONValue, ...]] = field(default_factory=dict)
    last_resort: Mapping[str, tuple[JSONValue, ...]] = field(default_factory=dict)
    tensors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    calibrated_options: frozenset[str] = frozenset()

    @property
    def optypewise(self) -> dict[str, OpCapability]:
        """The first op's choices per op type: the original tool's seed view, for display."""
        out: dict[str, OpCapability] = {}
        for key, cap in self.opwise.items():
            out.setdefault(key.op_type, cap)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The seed format of the original tool, with op keys as ``name::op_type`` strings."""
        return {
            "optypewise": {t: c.to_dict() for t, c in self.optypewise.items()},
            "opwise": {f"{k.name}::{k.op_type}": c.to_dict() for k, c in self.opwise.items()},
            "approaches": list(self.approaches),
            "options": {k: list(v) for k, v in self.options.items()},
        }


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """One concrete quantization: a config per op plus model-wise settings (the old ``tune_cfg``).

    Ops missing from ``ops`` stay FP32. ``calib_sampling_size`` is the number of calibration
    samples; ``options`` holds values of the backend's declared model-wise knobs.
    """

    approach: str = Approach.STATIC.value
    ops: Mapping[OpKey, OpConfig] = field(default_factory=dict)
    calib_sampling_size: int = 100
    options: Mapping[str, JSONValue] = field(default_factory=dict)

    def op(self, key: OpKey) -> OpConfig:
        return self.ops.get(key, FP32_OP)

    def fp32_ops(self) -> list[OpKey]:
        return [k for k, c in self.ops.items() if not c.is_quantized]

    def quantized_ops(self) -> list[OpKey]:
        return [k for k, c in self.ops.items() if c.is_quantized]

    def with_ops(self, changes: Mapping[OpKey, OpConfig]) -> Recipe:
        merged = dict(self.ops)
        merged.update(changes)
        return replace(self, ops=merged)

    def fallback(self, keys: Iterable[OpKey]) -> Recipe:
        """This recipe with ``keys`` kept in FP32."""
        return self.with_ops({k: FP32_OP for k in keys})

    def algorithm_of(self, key: OpKey) -> str | None:
        """The calibration algorithm asked for ``key``'s tensors: the op's own, else the model-wise
        ``activation.algorithm`` option (engines that take it for the whole model); None where the
        engine offers no choice (an op whose own range is never used)."""
        return self.op(key).activation.algorithm or self.options.get("activation.algorithm")

    def calibration_algorithms(self) -> set[str]:
        """Which calibration algorithms the quantized activations of this recipe need (minmax when
        no quantized op asks for one)."""
        if self.approach != Approach.STATIC or not self.quantized_ops():
            return set()
        return {a for k in self.quantized_ops() if (a := self.algorithm_of(k))} or {"minmax"}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, ops in the recipe's (graph) order: a recipe read back from history proposes
        its fallbacks in the order an uninterrupted run would."""
        return {
            "approach": str(self.approach),
            "calib_sampling_size": self.calib_sampling_size,
            "options": dict(self.options),
            "ops": [{"name": k.name, "op_type": k.op_type, **c.to_dict()} for k, c in self.ops.items()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        ops = {OpKey(o["name"], o["op_type"]): OpConfig.from_dict(o) for o in data.get("ops", [])}
        return cls(
            approach=str(data.get("approach", Approach.STATIC.value)),
            ops=ops,
            calib_sampling_size=int(data.get("calib_sampling_size", 100)),
            options=dict(data.get("options", {})),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        return cls.from_dict(json.loads(text))

    def fingerprint(self) -> str:
        """A stable short hash of the content, whatever the order of ops: equal recipes are never
        tried twice."""
        data = self.to_dict()
        data["ops"] = sorted(data["ops"], key=lambda o: (o["name"], o["op_type"]))
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
