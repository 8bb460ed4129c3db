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

    On a shared machine a latency measured alone moves with the load (the same recipe measured
    0.9x, 2.1x and 3.1x FP32 in three runs), so a candidate is measured against the FP32 model
    (``reference_model``, set by ``lpot.tune`` through :func:`bind_reference`): the two are timed in
    turns (A-B-B-A), round after round, and the candidate's figure is the median ratio to FP32 in those rounds
    times the FP32 baseline. Rounds go on until the ratios' spread (interquartile range over the
    median) is below ``spread`` after ``min_rounds``, or ``budget_s`` seconds are spent; the spread
    reached is kept in ``last`` (and in the trial's details). The FP32 model itself, and any model
    without a reference, is timed alone: ``repeats`` short benchmarks, the median of their medians.
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
        spread: float = 0.05,
        min_rounds: int = 3,
        max_rounds: int = 15,
    ) -> None:
        if mode not in ("latency", "throughput"):
            raise ConfigError(f"objective performance: mode must be 'latency' or 'throughput', got {mode!r}")
        if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
            raise ConfigError(f"objective performance: repeats must be a positive integer, got {repeats!r}")
        self.warmup, self.iterations, self.min_iterations = warmup, iterations, min_iterations
        self.budget_s, self.repeats, self.mode = budget_s, repeats, mode
        self.spread, self.min_rounds, self.max_rounds = spread, min_rounds, max_rounds
        self.higher_is_better = mode == "throughput"
        self.unit = "samples/s" if mode == "throughput" else "ms"
        self.batch_size: int | None = None  # of the last measurement: latency means "per batch of N"
        self.reference_model: object | None = None
        self.reference_ms: float | None = None  # FP32 latency, timed alone
        self.last: dict[str, float] = {}

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        if self.reference_model is None or model is self.reference_model:
            latency = self._alone(backend, model, dataloader)
            if model is self.reference_model:
                self.reference_ms = latency
        else:
            latency = self._against_reference(backend, model, dataloader)
        if self.mode == "throughput":
            return (self.batch_size or 1) * 1000.0 / latency if latency > 0 else math.inf
        return latency

    def _alone(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        # the first repeat, after the warm-up, is also the probe that sizes the others
        first = backend.benchmark(model, dataloader, warmup=self.warmup, iterations=self.min_iterations)
        latencies = [float(first.latency_ms)]
        self.batch_size = first.batch_size
        if self.repeats > 1:
            affordable = int(self.budget_s * 1000.0 / max(first.latency_ms, 1e-6))
            total = max(self.min_iterations, min(self.iterations, affordable))
            per_repeat = max(1, -(-(total - self.min_iterations) // (self.repeats - 1)))
            for _ in range(self.repeats - 1):
                result = backend.benchmark(model, dataloader, warmup=1, iterations=per_repeat)
                latencies.append(float(result.latency_ms))
        return statistics.median(latencies)

    def _against_reference(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        import time

        reference = self.reference_model
        if self.reference_ms is None:  # a resumed run or a worker: FP32 was timed elsewhere
            self.reference_ms = self._alone(backend, reference, dataloader)
        start = time.monotonic()
        backend.benchmark(model, dataloader, warmup=self.warmup, iterations=1)  # warm the candidate
        ratios = []
        while len(ratios) < self.max_rounds:
            # A-B-B-A: a load that rises or falls steadily through the round cancels out
            f1, t1, t2, f2 = (
                backend.benchmark(m, dataloader, warmup=1, iterations=self.min_iterations)
                for m in (reference, model, model, reference)
            )
            self.batch_size = t1.batch_size
            ratios.append((t1.latency_ms + t2.latency_ms) / max(f1.latency_ms + f2.latency_ms, 1e-9))
            enough = len(ratios) >= self.min_rounds
            if enough and (
                relative_spread(ratios) <= self.spread or time.monotonic() - start > self.budget_s
            ):
                break
        ratio = statistics.median(ratios)
        self.last = {"ratio_to_fp32": ratio, "spread": relative_spread(ratios), "rounds": float(len(ratios))}
        return ratio * self.reference_ms


def relative_spread(values: list[float]) -> float:
    """Interquartile range over the median (0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    median = statistics.median(values)
    return (q3 - q1) / median if median else math.inf


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
    """The raw figures behind the last measurement (for the trial's details and the run log): a
    weighted objective's parts, a latency's ratio to FP32 and the spread of that ratio."""
    if isinstance(objective, Weighted):
        return {**objective.last, "score": value}
    if isinstance(objective, Performance) and objective.last:
        parts, objective.last = dict(objective.last), {}
        return parts
    return {}


def measured_batch(objective: Objective) -> int | None:
    """The batch size a latency or throughput objective was measured at (None for other kinds)."""
    if isinstance(objective, Performance):
        return objective.batch_size
    if isinstance(objective, Weighted):
        return next((measured_batch(p) for p in objective.parts.values() if measured_batch(p)), None)
    return None


def bind_reference(objective: Objective, model: object) -> Objective:
    """Tell an objective that measures against FP32 (:class:`Weighted`, :class:`Performance`) which
    model FP32 is."""
    if isinstance(objective, Weighted):
        objective.reference_model = model
        for part in objective.parts.values():
            bind_reference(part, model)
    elif isinstance(objective, Performance):
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
        checked[LPOT_NAMES.get(str(name), str(name))] = float(weight)
    total = sum(checked.values())
    return {name: weight / total for name, weight in checked.items()}


# LPOT 1.x's spelling of the objectives (its YAML: ``objective: modelsize``)
LPOT_NAMES = {"modelsize": "model_size"}


def create_objective(name: str | Mapping[str, float], **params: Any) -> Objective:
    """The objective registered as ``name``, or a :class:`Weighted` one from ``{name: weight}``."""
    if isinstance(name, Mapping):
        if len(name) == 1 and not params:
            return create_objective(next(iter(name)))  # one objective: its own unit, no normalisation
        return Weighted(name, **params)
    from lpot import plugins

    return plugins.create("lpot.objectives", LPOT_NAMES.get(name, name), **params)
