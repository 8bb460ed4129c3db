"""What "better" means among recipes that meet the accuracy goal: latency, memory or size.

Each objective is measured on the real model through the backend, never assumed, so a quantized
model that turns out slower than FP32 is seen (and reported) as slower.
"""

from __future__ import annotations

import itertools
import math
import statistics
import tracemalloc
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lpot.backend import Backend, DataLoader
from lpot.data import split_batch
from lpot.errors import ConfigError


@runtime_checkable
class Objective(Protocol):
    name: str
    unit: str
    higher_is_better: bool

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float: ...


class Performance:
    """Latency per batch in ms (lower is better), or ``mode="throughput"`` in samples/s (higher is
    better), by the backend's own benchmark (one instance, all cores).

    Measured for every trial, so its cost is bounded: ``repeats`` benchmarks, ``min_iterations``
    to ``iterations`` runs in all within about ``budget_s`` seconds, the first (after ``warmup``
    runs) also sizing the others; the median of their medians is kept, so one noisy burst on a
    shared machine moves one repeat, not the result.
    """

    name = "performance"

    def __init__(
        self,
        warmup: int = 3,
        iterations: int = 20,
        min_iterations: int = 5,
        budget_s: float = 2.0,
        repeats: int = 3,
        mode: str = "latency",
    ) -> None:
        if mode not in ("latency", "throughput"):
            raise ConfigError(f"objective performance: mode must be 'latency' or 'throughput', got {mode!r}")
        if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
            raise ConfigError(f"objective performance: repeats must be a positive integer, got {repeats!r}")
        self.warmup = warmup
        self.iterations = iterations
        self.min_iterations = min_iterations
        self.budget_s = budget_s
        self.repeats = repeats
        self.mode = mode
        self.higher_is_better = mode == "throughput"
        self.unit = "samples/s" if mode == "throughput" else "ms"
        self.batch_size: int | None = None  # of the last measurement: latency means "per batch of N"

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        # the first repeat, after the warm-up, is also the probe that sizes the others
        first = backend.benchmark(model, dataloader, warmup=self.warmup, iterations=self.min_iterations)
        latencies, batch = [float(first.latency_ms)], first.batch_size
        self.batch_size = batch
        if self.repeats > 1:
            affordable = int(self.budget_s * 1000.0 / max(first.latency_ms, 1e-6))
            total = max(self.min_iterations, min(self.iterations, affordable))
            per_repeat = max(1, -(-(total - self.min_iterations) // (self.repeats - 1)))
            for _ in range(self.repeats - 1):
                result = backend.benchmark(model, dataloader, warmup=1, iterations=per_repeat)
                latencies.append(float(result.latency_ms))
        latency = statistics.median(latencies)
        if self.mode == "throughput":
            return (batch or 1) * 1000.0 / latency if latency > 0 else math.inf
        return latency


class Throughput(Performance):
    """Samples per second (``objective: throughput``): :class:`Performance` in throughput mode."""

    def __init__(self, **params: Any) -> None:
        params.setdefault("mode", "throughput")
        super().__init__(**params)


class ModelSize:
    """Serialized size of the model in bytes."""

    name = "model_size"
    unit = "bytes"
    higher_is_better = False

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        return float(backend.model_size(model))


class Footprint:
    """Peak memory added while running a few batches, in bytes.

    On Linux it resets the process's peak-RSS mark (``/proc/self/clear_refs``) and reads ``VmHWM``,
    which sees native framework allocations; elsewhere it falls back to Python's tracemalloc.
    """

    name = "footprint"
    unit = "bytes"
    higher_is_better = False

    def __init__(self, batches: int = 3) -> None:
        self.batches = batches

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        batches = [split_batch(b)[0] for b in itertools.islice(dataloader, self.batches)]
        if _can_reset_peak():
            Path("/proc/self/clear_refs").write_text("5")
            base = _status_kb("VmRSS")
            for inputs in batches:
                backend.outputs(model, inputs)
            return float(max(_status_kb("VmHWM") - base, 0) * 1024)
        tracemalloc.start()
        try:
            for inputs in batches:
                backend.outputs(model, inputs)
            return float(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()


def _can_reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kb("VmHWM") > 0
    except OSError:
        return False


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Weighted:
    """Several objectives in one number: ``objective: {performance: 0.7, model_size: 0.3}``.

    Each objective is normalised by its value for the FP32 model, oriented so that lower is better
    (``value / fp32`` for latency, size and memory; ``fp32 / value`` for throughput), and the
    normalised values are averaged with the weights (scaled to sum to 1). The FP32 model therefore
    scores 1.0 and a recipe scoring 0.6 is, by this measure, 40% cheaper; the tuning loop compares
    trials by this score like any lower-is-better objective.

    The FP32 reference is measured on ``reference_model`` (set by ``lpot.tune`` through
    :func:`bind_reference`) the first time a score is needed, so a resumed run, or a worker of a
    parallel executor, which never measures the baseline itself, still scores against FP32. Without a
    reference model the first model measured is the reference (the tuning loop measures FP32
    first). Each measurement's raw values are kept in ``last``.
    """

    name = "weighted"
    unit = "x FP32"
    higher_is_better = False

    def __init__(
        self, weights: Mapping[str, float], objectives: Mapping[str, Objective] | None = None
    ) -> None:
        self.weights = _weights(weights)
        given = dict(objectives or {})
        self.parts = {name: given.get(name) or create_objective(name) for name in self.weights}
        self.reference: dict[str, float] | None = None
        self.reference_model: object | None = None
        self.last: dict[str, float] = {}

    def set_reference(self, backend: Backend, model: object, dataloader: DataLoader) -> dict[str, float]:
        """Measure the FP32 model as the reference every score is relative to."""
        self.reference = self._raw(backend, model, dataloader)
        return dict(self.reference)

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        if self.reference is None and self.reference_model is not None and model is not self.reference_model:
            self.set_reference(backend, self.reference_model, dataloader)
        values = self._raw(backend, model, dataloader)
        if self.reference is None:
            self.reference = dict(values)
        return self.score(values)

    def score(self, values: Mapping[str, float]) -> float:
        """The weighted mean of ``values`` normalised by the reference (1.0 for the reference)."""
        assert self.reference is not None
        total = 0.0
        for name, weight in self.weights.items():
            ref, value = self.reference[name], values[name]
            if self.parts[name].higher_is_better:
                ratio = ref / value if value > 0 else math.inf
            else:
                ratio = value / ref if ref > 0 else (1.0 if value <= 0 else math.inf)
            total += weight * ratio
        return total

    def _raw(self, backend: Backend, model: object, dataloader: DataLoader) -> dict[str, float]:
        self.last = {name: float(obj.measure(backend, model, dataloader)) for name, obj in self.parts.items()}
        return dict(self.last)


def objective_parts(objective: Objective, value: float) -> dict[str, float]:
    """The raw figures behind the last measurement of a weighted objective (for the run log), {} else."""
    if isinstance(objective, Weighted):
        return {**objective.last, "score": value}
    return {}


def measured_batch(objective: Objective) -> int | None:
    """The batch size a latency or throughput objective was measured at (None for other kinds)."""
    if isinstance(objective, Performance):
        return objective.batch_size
    if isinstance(objective, Weighted):
        return next((measured_batch(p) for p in objective.parts.values() if measured_batch(p)), None)
    return None


def bind_reference(objective: Objective, model: object) -> Objective:
    """Tell an objective that normalises by FP32 (:class:`Weighted`) which model FP32 is."""
    if isinstance(objective, Weighted):
        objective.reference_model = model
    return objective


def _weights(weights: Mapping[str, float]) -> dict[str, float]:
    if not isinstance(weights, Mapping) or not weights:
        raise ConfigError(f"a weighted objective needs {{name: weight}} pairs, got {weights!r}")
    checked = {}
    for name, weight in weights.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not weight > 0
            or math.isinf(weight)
        ):
            raise ConfigError(f"objective weight of {name!r} must be a number > 0, got {weight!r}")
        checked[str(name)] = float(weight)
    total = sum(checked.values())
    return {name: weight / total for name, weight in checked.items()}


def create_objective(name: str | Mapping[str, float], **params: Any) -> Objective:
    """The objective registered as ``name``, or a :class:`Weighted` one from ``{name: weight}``."""
    if isinstance(name, Mapping):
        if len(name) == 1 and not params:
            return create_objective(next(iter(name)))  # one objective: its own unit, no normalisation
        return Weighted(name, **params)
    from lpot import plugins

    return plugins.create("lpot.objectives", name, **params)
