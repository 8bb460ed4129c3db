"""What "better" means among recipes that meet the accuracy goal: latency, memory or size.

Each objective is measured on the real model through the backend, never assumed, so a quantized
model that turns out slower than FP32 is seen (and reported) as slower.
"""

from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lpot.backend import Backend, DataLoader
from lpot.data import split_batch


@runtime_checkable
class Objective(Protocol):
    name: str
    unit: str
    higher_is_better: bool

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float: ...


class Performance:
    """Median latency per batch in ms, by the backend's own benchmark (one instance, all cores).

    Measured for every trial, so its cost is bounded: a short probe estimates the latency and the
    measurement then takes about ``budget_s`` seconds (``min_iterations`` to ``iterations`` runs).
    """

    name = "performance"
    unit = "ms"
    higher_is_better = False

    def __init__(
        self, warmup: int = 3, iterations: int = 20, min_iterations: int = 5, budget_s: float = 2.0
    ) -> None:
        self.warmup = warmup
        self.iterations = iterations
        self.min_iterations = min_iterations
        self.budget_s = budget_s

    def measure(self, backend: Backend, model: object, dataloader: DataLoader) -> float:
        probe = backend.benchmark(model, dataloader, warmup=1, iterations=2)
        affordable = int(self.budget_s * 1000.0 / max(probe.latency_ms, 1e-6))
        iterations = max(self.min_iterations, min(self.iterations, affordable))
        result = backend.benchmark(model, dataloader, warmup=self.warmup, iterations=iterations)
        return float(result.latency_ms)


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
                backend.predict(model, inputs)
            return float(max(_status_kb("VmHWM") - base, 0) * 1024)
        tracemalloc.start()
        try:
            for inputs in batches:
                backend.predict(model, inputs)
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


def create_objective(name: str, **params: Any) -> Objective:
    from lpot import plugins

    return plugins.create("lpot.objectives", name, **params)
