"""The contract between the framework-neutral core and one framework backend.

A backend is any object satisfying :class:`Backend`; packages register one through the
``lpot.backends`` entry-point group. Everything that crosses this boundary is plain Python, numpy
or a JSON-able dataclass, so the core never needs to import a framework.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lpot.recipe import Capability, OpKey, Recipe

# A batch as the user's dataloader yields it: (inputs, labels); inputs an array, a framework
# tensor, or a dict of them for multi-input models; labels may be None.
Batch = tuple[Any, Any]
DataLoader = Iterable[Batch]


@dataclass(frozen=True, kw_only=True)
class CalibrationSpec:
    """What calibration statistics depend on besides the model and the data.

    Statistics never depend on which ops fall back, so the core computes them once per spec and
    hands the same :class:`Stats` to every trial that needs them.
    """

    algorithm: str = "minmax"
    sampling_size: int = 100

    def key(self) -> str:
        return f"{self.algorithm}-{self.sampling_size}"


@dataclass(frozen=True, kw_only=True)
class Stats:
    """Calibrated value ranges per tensor name: ``{tensor: (low, high)}``, JSON-serializable."""

    spec: CalibrationSpec
    ranges: Mapping[str, tuple[float, float]]
    samples_seen: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm": self.spec.algorithm,
            "sampling_size": self.spec.sampling_size,
            "samples_seen": self.samples_seen,
            "ranges": {k: [float(lo), float(hi)] for k, (lo, hi) in self.ranges.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        spec = CalibrationSpec(algorithm=data["algorithm"], sampling_size=int(data["sampling_size"]))
        ranges = {k: (float(v[0]), float(v[1])) for k, v in data["ranges"].items()}
        return cls(spec=spec, ranges=ranges, samples_seen=int(data.get("samples_seen", 0)))


@dataclass(frozen=True, kw_only=True)
class BenchmarkResult:
    """Latency (ms per batch) and throughput (samples/s), summed over instances for throughput."""

    latency_ms: float
    latency_p90_ms: float
    throughput: float
    batch_size: int
    iterations: int
    num_instances: int = 1
    cores_per_instance: int | None = None
    per_instance: tuple[float, ...] = field(default_factory=tuple)
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, per_instance=list(self.per_instance))


@runtime_checkable
class Metric(Protocol):
    """A streaming metric over numpy predictions and labels (``lpot.metrics``)."""

    higher_is_better: bool

    def reset(self) -> None: ...
    def update(self, preds: Any, labels: Any) -> None: ...
    def result(self) -> float: ...


def evaluate_batches(
    predict: Callable[[Any, Any], Any], model: Any, dataloader: DataLoader, metric: Metric
) -> float:
    """``Backend.evaluate`` for backends whose ``predict(model, inputs)`` gives one batch's outputs."""
    from lpot.data import split_batch

    metric.reset()
    for batch in dataloader:
        inputs, labels = split_batch(batch)
        metric.update(predict(model, inputs), labels)
    return metric.result()


@runtime_checkable
class Backend(Protocol):
    """One framework's implementation of the operations the tuning loop needs."""

    name: str

    def accepts(self, model: object) -> bool:
        """True when ``model`` (an object or a path) belongs to this backend. Never raises."""

    def load_model(self, model: object) -> object:
        """Turn what the user passed (object or path) into the backend's native model."""

    def fingerprint(self, model: object) -> str:
        """A stable hash of the model's content, so resume can refuse a changed model."""

    def capability(self, model: object, approach: str = "post_training_static_quant") -> Capability:
        """Which ops can be quantized by ``approach`` and with which settings (seed format)."""

    def calibrate(self, model: object, dataloader: DataLoader, spec: CalibrationSpec) -> Stats:
        """Run FP32 inference on calibration data and return per-tensor ranges."""

    def quantize(
        self, model: object, recipe: Recipe, stats: Mapping[str, Stats], dataloader: DataLoader | None = None
    ) -> object:
        """Apply ``recipe`` using precomputed ``stats`` (keyed by algorithm). Must not recalibrate."""

    def evaluate(self, model: object, dataloader: DataLoader, metric: Metric) -> float:
        """Run the model over the dataloader and return ``metric.result()``."""

    def predict(self, model: object, inputs: Any) -> Any:
        """Outputs of one batch as numpy (the first output for single-output models)."""

    def inspect(self, model: object, dataloader: DataLoader, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
        """Per-op output tensors (concatenated over batches), keyed by op name."""

    def benchmark(
        self,
        model: object,
        dataloader: DataLoader,
        *,
        cores_per_instance: int | None = None,
        num_instances: int = 1,
        warmup: int = 5,
        iterations: int = 50,
    ) -> BenchmarkResult:
        """Measure latency and throughput; with several instances, each pinned to its cores."""

    def model_size(self, model: object) -> int:
        """Serialized size of the model in bytes."""

    def save(self, model: object, path: Path) -> Path:
        """Write the model in its framework's native format; return the file written."""

    def load(self, path: Path) -> object:
        """Load a model written by :meth:`save`."""
