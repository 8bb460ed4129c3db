"""The contract a framework package implements: a narrow :class:`Engine`.

An engine does only what its framework makes different: load a model, say what can be quantized,
collect value ranges, apply a recipe, run a batch, serialize. Everything every framework would write
the same way (evaluation over batches and which output the metric scores, benchmarking in process
and in pinned instances, fingerprints, model size, atomic save/load with the recipe, which
calibration algorithm ranges which tensor) is written once, in :class:`lpot.backend.Backend`, the
core adapter that wraps an engine.

Optional members are declared in ``features`` and checked when the plugin loads
(:func:`lpot.plugins.engine_problems`), never probed while tuning. Everything that crosses this
boundary is plain Python, numpy or a JSON-able dataclass, so the core never imports a framework.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lpot.errors import QuantizationError
from lpot.recipe import Capability, JSONValue, OpKey, Recipe

Range = tuple[float, float]
# The inputs of one batch: an array, a framework tensor, or a dict of them for multi-input models.
Inputs = Any


class Feature(str, Enum):
    """Optional parts of the contract an engine declares in ``Engine.features``."""

    INSPECT = "inspect"  # ``inspect(model, inputs, ops)``: per-op outputs (mse/sensitivity, reports)
    OP_WEIGHTS = "op_weights"  # ``op_weights(model, ops)``: weights as each op computes (TensorBoard)
    QAT = "qat"  # ``quantize`` trains through ``QuantizeContext.train``
    BF16 = "bf16"  # capability may offer ``bf16`` (only where the CPU runs it natively)
    PREPARE = "prepare"  # ``prepare(model, approach)``: the native model rewritten for an approach
    OPTIMIZE = "optimize"  # ``optimize(model, precisions, keep_fp32) -> Optimized``: lpot.optimize
    FINALIZE = "finalize"  # ``finalize(model)``: the chosen model as deployed (compiled), scored again

    __str__ = str.__str__
    __format__ = str.__format__


# The members each feature requires, checked when the plugin loads.
FEATURE_MEMBERS: dict[Feature, tuple[str, ...]] = {
    Feature.INSPECT: ("inspect",),
    Feature.OP_WEIGHTS: ("op_weights",),
    Feature.QAT: (),
    Feature.BF16: (),
    Feature.PREPARE: ("prepare",),
    Feature.OPTIMIZE: ("optimize",),
    Feature.FINALIZE: ("finalize",),
}
REQUIRED_MEMBERS = (
    "name",
    "aliases",
    "features",
    "accepts",
    "load",
    "capability",
    "calibrate",
    "quantize",
    "predict",
    "set_threads",
    "runner",
    "serialize",
    "save",
    "read",
)


@dataclass(frozen=True, kw_only=True)
class CalibrationSpec:
    """What calibration statistics depend on besides the model and the data.

    Statistics never depend on which ops fall back, so the core computes them once per spec and
    hands the same :class:`Stats` to every trial that needs them. ``graph`` holds the recipe's
    values of the options the engine declared as changing the graph calibration runs on
    (:attr:`lpot.recipe.Capability.calibrated_options`: SmoothQuant's alpha, equalization), as
    sorted ``(option, value)`` pairs: the engine transforms the model the same way before
    calibrating and before quantizing, and every value gets statistics of its own.
    """

    algorithm: str = "minmax"
    sampling_size: int = 100
    graph: tuple[tuple[str, JSONValue], ...] = ()

    def key(self) -> str:
        if not self.graph:
            return f"{self.algorithm}-{self.sampling_size}"
        digest = hashlib.sha256(json.dumps(list(self.graph)).encode()).hexdigest()[:10]
        return f"{self.algorithm}-{self.sampling_size}-g{digest}"

    @property
    def graph_options(self) -> dict[str, JSONValue]:
        return dict(self.graph)


@dataclass(frozen=True, kw_only=True)
class Stats:
    """Calibrated value ranges per tensor name: ``{tensor: (low, high)}``, JSON-serializable.

    ``artifacts`` is room for what an engine builds while calibrating and needs again to quantize
    (TensorFlow's calibrated float TFLite graph): bytes by name, stored next to the ranges by the
    calibration store, so a resumed run needs neither the data nor a second calibration.
    """

    spec: CalibrationSpec
    ranges: Mapping[str, Range]
    samples_seen: int = 0
    artifacts: Mapping[str, bytes] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.spec.algorithm,
            "sampling_size": self.spec.sampling_size,
            "graph": [list(item) for item in self.spec.graph],
            "samples_seen": self.samples_seen,
            "ranges": {k: [float(lo), float(hi)] for k, (lo, hi) in self.ranges.items()},
            "artifacts": sorted(self.artifacts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], artifacts: Mapping[str, bytes] | None = None) -> Stats:
        spec = CalibrationSpec(
            algorithm=data["algorithm"],
            sampling_size=int(data["sampling_size"]),
            graph=tuple((str(k), v) for k, v in data.get("graph", [])),
        )
        ranges = {k: (float(v[0]), float(v[1])) for k, v in data["ranges"].items()}
        return cls(
            spec=spec, ranges=ranges, samples_seen=int(data.get("samples_seen", 0)), artifacts=artifacts or {}
        )


@dataclass(frozen=True)
class Optimized:
    """What ``Engine.optimize`` returns: the rewritten native model, the ops it put in a lower
    precision (the order an accuracy-driven fallback gives them back to FP32) and what it did, in
    words (``{"fusions": "Attention=6, ..."}``)."""

    model: Any
    low_precision_ops: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class QuantizeContext:
    """What a trial hands ``Engine.quantize`` besides the model, the recipe and the ranges.

    ``train``: the user's quantization-aware training function (``q_func(model)``), only for
    engines with :attr:`Feature.QAT`. ``calibration``: input batches of the calibration data, for what
    must run the model being built (QAT's fake-quantization start, a bias correction that measures
    the INT8 layers' output shift); ranges always come from the given statistics, never from it. ``artifacts``: the engine's own
    calibration artifacts (:attr:`Stats.artifacts`) of the recipe's algorithms, merged.
    """

    train: Callable[[Any], Any] | None = None
    calibration: Iterable[Inputs] | None = None
    artifacts: Mapping[str, bytes] = field(default_factory=dict)


@runtime_checkable
class Engine(Protocol):
    """One framework's share of the work. See the module docstring and ``docs/architecture.md``."""

    name: str
    # LPOT framework names this engine answers to in ``model.framework``, each with the settings the
    # name implies: ``{"onnxrt_qdqops": {"format": "qdq"}, "onnxrt_integerops": {"approach":
    # "post_training_dynamic_quant"}}``. Published as ``lpot.frameworks`` entry points too.
    aliases: Mapping[str, Mapping[str, Any]]
    features: frozenset[Feature]

    def accepts(self, model: object) -> bool:
        """True when ``model`` (an object or a path) belongs to this engine. Never raises, never
        imports the framework (a model of it means the framework is imported already)."""

    def load(self, model: object) -> Any:
        """The native model for what the user passed (object or path)."""

    def capability(self, model: Any, approach: str, objective: str) -> Capability:
        """What can be quantized by ``approach`` and how (per op, and model-wise options). The
        tuning ``objective`` (``performance``, ``model_size``...) may shape the options."""

    def calibrate(self, model: Any, batches: Iterable[Inputs], spec: CalibrationSpec) -> Stats:
        """FP32 inference over input batches (already cut to ``spec.sampling_size``): per-tensor ranges."""

    def quantize(
        self, model: Any, recipe: Recipe, ranges: Mapping[str, Range], context: QuantizeContext
    ) -> Any:
        """``recipe`` applied to ``model`` with the given ``ranges``; never calibrates again."""

    def predict(self, model: Any, inputs: Inputs) -> dict[str, Any]:
        """Every output of one batch, by name, in the model's order (numpy arrays)."""

    def set_threads(self, threads: int | None) -> None:
        """Run later inferences of this process on ``threads`` intra-op threads (None: the
        framework's default). Called before :meth:`read` in a fresh benchmark process."""

    def runner(self, model: Any) -> Callable[[Inputs], Callable[[], Any]]:
        """For timing: ``runner(model)(inputs)`` prepares a batch and returns a call that runs
        it once and returns only when done (input conversion stays outside the timed call)."""

    def serialize(self, model: Any) -> bytes:
        """Deterministic bytes that define the model (same model, same bytes, in any process):
        hashed for resume, counted as the model's size."""

    def save(self, model: Any, folder: Path) -> Path:
        """Write the model in its framework's native format into the existing ``folder``; return the
        main file written."""

    def read(self, path: Path) -> Any:
        """A model written by :meth:`save` (``path`` is the file it returned)."""


def tensor_ranges(
    recipe: Recipe, stats: Mapping[str, Stats], tensors: Mapping[str, Iterable[str]]
) -> dict[str, Range]:
    """The one range rule: which calibration algorithm ranges which tensor.

    The algorithm most of the recipe's INT8 ops ask for (minmax when none asks) ranges every
    calibrated tensor; an INT8 op that asks for another has its own tensors (``tensors[op name]``,
    from the capability) ranged by that one. Ops missing from ``tensors`` only take part in the majority.
    """
    quantized = recipe.quantized_ops()
    if not quantized:
        return {}
    asked = [recipe.algorithm_of(k) for k in quantized]
    named = [a for a in asked if a is not None] or ["minmax"]
    missing = sorted(set(named) - set(stats))
    if missing:
        raise QuantizationError(
            f"no calibration statistics for algorithm(s) {missing} (given: {sorted(stats)})"
        )
    main = _majority(named)
    ranges = dict(stats[main].ranges)
    for key, algorithm in zip(quantized, asked):
        if algorithm is None or algorithm == main:
            continue
        own = stats[algorithm].ranges
        ranges.update({t: own[t] for t in tensors.get(key.name, ()) if t in own})
    return ranges


def _majority(values: list[str]) -> str:
    """The most common value; ties go to the one seen first."""
    counts = Counter(values)
    top = max(counts.values())
    return next(v for v in values if counts[v] == top)


def merged_artifacts(stats: Mapping[str, Stats]) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for algorithm in sorted(stats):
        out.update(stats[algorithm].artifacts)
    return out


OpKeys = Iterable[OpKey]
