"""The core adapter: one :class:`Backend` wraps one framework's :class:`~lpot.engine.Engine`.

Everything every framework would write the same way lives here, once: evaluation over batches and
which output a metric scores, per-op error from inspection, benchmarking in process and in pinned
instances, fingerprint and size from the engine's bytes, the calibration range rule, and the
shape of calibration input. The tuning loop, objectives, reports and the CLI talk to this class,
never to an engine directly.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpot.data import LimitedLoader, batch_size_of, split_batch
from lpot.engine import (
    CalibrationSpec,
    Engine,
    Feature,
    QuantizeContext,
    Stats,
    merged_artifacts,
    tensor_ranges,
)
from lpot.errors import ConfigError, DataError, ModelError
from lpot.instances import BenchmarkResult
from lpot.metric import Metric
from lpot.recipe import Approach, Capability, OpKey, Recipe

DataLoader = Iterable[Any]
log = logging.getLogger("lpot")


class Backend:
    """The shared half of a backend around ``engine``. ``registered``: the engine's entry-point
    name, which worker and benchmark processes use to load the same engine again."""

    def __init__(self, engine: Engine, *, registered: str | None = None) -> None:
        self.engine = engine
        self.registered = registered

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def features(self) -> frozenset[Feature]:
        return frozenset(self.engine.features)

    def has(self, feature: Feature) -> bool:
        return feature in self.features

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"

    # models -------------------------------------------------------------------------------
    def accepts(self, model: object) -> bool:
        try:
            return bool(self.engine.accepts(model))
        except Exception:  # accepts() must not raise; a buggy one must not hide other backends
            return False

    def load(self, model: object) -> Any:
        return self.engine.load(model)

    def prepare(self, model: Any, approach: str) -> Any:
        """The native model rewritten for ``approach`` by engines that declare
        :attr:`Feature.PREPARE` (exact FP32 rewrites its quantizer needs: ORT's transformer fusions
        before dynamic INT8); the model itself otherwise. Baseline and trials all use the result."""
        if self.has(Feature.PREPARE):
            return self.engine.prepare(model, approach)
        return model

    def finalize(self, model: Any) -> Any:
        """The chosen model in the form it is deployed, for engines that declare
        :attr:`Feature.FINALIZE` (PyTorch compiles a pt2e INT8 graph with inductor, too slow to do
        for every trial); the model itself otherwise. The core scores the result again."""
        if self.has(Feature.FINALIZE):
            return self.engine.finalize(model)
        return model

    def fingerprint(self, model: Any) -> str:
        """A content hash of the model (the engine's deterministic bytes)."""
        return hashlib.sha256(self.engine.serialize(model)).hexdigest()[:32]

    def model_size(self, model: Any) -> int:
        """Bytes that define the model: weights (INT8 where quantized) and graph."""
        return len(self.engine.serialize(model))

    def capability(
        self, model: Any, approach: str = Approach.STATIC, objective: str = "performance"
    ) -> Capability:
        return self.engine.capability(model, approach, objective)

    # quantization -------------------------------------------------------------------------
    def calibrate(self, model: Any, dataloader: DataLoader, spec: CalibrationSpec) -> Stats:
        """The engine's calibration over the first ``spec.sampling_size`` samples' inputs."""
        counted = _Counted(LimitedLoader(dataloader, spec.sampling_size))
        stats = self.engine.calibrate(model, counted, spec)
        if counted.samples == 0:
            raise DataError("the calibration dataloader yielded no samples")
        return stats

    def quantize(
        self,
        model: Any,
        recipe: Recipe,
        stats: Mapping[str, Stats],
        tensors: Mapping[str, Iterable[str]],
        *,
        train: Callable[[Any], Any] | None = None,
        calibration: DataLoader | None = None,
    ) -> Any:
        """``recipe`` applied with ranges chosen by the one range rule (:func:`tensor_ranges`)."""
        if train is not None and not self.has(Feature.QAT):
            raise ConfigError(
                f"the {self.name} backend does not train: quant_aware_training is not supported"
            )
        context = QuantizeContext(
            train=train,
            calibration=None
            if calibration is None
            else _Inputs(LimitedLoader(calibration, recipe.calib_sampling_size)),
            artifacts=merged_artifacts(stats),
        )
        ranges = tensor_ranges(recipe, stats, tensors) if recipe.calibration_algorithms() else {}
        return self.engine.quantize(model, recipe, ranges, context)

    # running ------------------------------------------------------------------------------
    def outputs(self, model: Any, inputs: Any) -> dict[str, Any]:
        return self.engine.predict(model, inputs)

    def predict(self, model: Any, inputs: Any, output: str | None = None) -> Any:
        """The output a metric scores: ``output`` by name, else the only one."""
        return choose_output(self.engine.predict(model, inputs), output)

    def evaluate(
        self, model: Any, dataloader: DataLoader, metric: Metric, output: str | None = None
    ) -> float:
        """``metric`` over the batches of ``dataloader``, scoring ``output`` (see :func:`choose_output`)."""
        metric.reset()
        for batch in dataloader:
            inputs, labels = split_batch(batch)
            metric.update(self.predict(model, inputs, output), labels)
        return metric.result()

    def op_errors(
        self, fp32: Any, quantized: Any, ops: Sequence[OpKey], dataloader: DataLoader, batches: int = 2
    ) -> dict[str, float]:
        """``{op name: relative MSE ||q - f||² / ||f||²}`` of each op's output over a few batches,
        accumulated batch by batch (batches may differ in shape: sequences of other lengths)."""
        if not self.has(Feature.INSPECT) or not ops:
            return {}
        try:
            return self._op_errors(fp32, quantized, ops, dataloader, batches)
        except Exception as exc:  # a ranking or a report must not end a run
            log.warning("per-op inspection failed on the %s backend, no per-op errors: %s", self.name, exc)
            return {}

    def _op_errors(
        self, fp32: Any, quantized: Any, ops: Sequence[OpKey], dataloader: DataLoader, batches: int
    ) -> dict[str, float]:
        sums: dict[str, list[float]] = {}
        for batch in itertools.islice(dataloader, batches):
            inputs = split_batch(batch)[0]
            ref = self.engine.inspect(fp32, inputs, ops)
            got = self.engine.inspect(quantized, inputs, ops)
            for name, a in ref.items():
                b = got.get(name)
                if b is None or np.shape(a) != np.shape(b):
                    continue
                a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
                # an exported attention mask holds -inf: equal values (infinities too) are no error,
                # and only finite FP32 values weigh in the norm
                finite = np.isfinite(a64)
                with np.errstate(invalid="ignore"):
                    diff = np.where(a64 == b64, 0.0, b64 - a64)
                acc = sums.setdefault(name, [0.0, 0.0])
                acc[0] += float(np.sum(np.square(np.where(finite, diff, 0.0))))
                acc[1] += float(np.sum(np.square(np.where(finite, a64, 0.0))))
        return {name: (num / den if den else 0.0) for name, (num, den) in sums.items()}

    def inspect(
        self, model: Any, dataloader: DataLoader, ops: Sequence[OpKey], batches: int = 2
    ) -> dict[str, Any]:
        """Each op's outputs over a few batches, flattened and joined (histograms)."""
        if not self.has(Feature.INSPECT):
            return {}
        parts: dict[str, list[Any]] = {}
        for batch in itertools.islice(dataloader, batches):
            for name, value in self.engine.inspect(model, split_batch(batch)[0], ops).items():
                parts.setdefault(name, []).append(np.ravel(np.asarray(value, np.float32)))
        return {name: np.concatenate(chunks) for name, chunks in parts.items()}

    def op_weights(self, model: Any, ops: Sequence[OpKey]) -> dict[str, Any]:
        if not self.has(Feature.OP_WEIGHTS):
            return {}
        return self.engine.op_weights(model, ops)  # type: ignore[attr-defined]

    def benchmark(
        self,
        model: Any,
        dataloader: DataLoader,
        *,
        cores_per_instance: int | None = None,
        num_instances: int = 1,
        warmup: int = 5,
        iterations: int = 50,
        max_batches: int = 8,
    ) -> BenchmarkResult:
        """Latency and throughput; with several instances, each a process pinned to its cores."""
        from lpot import instances

        return instances.benchmark(
            self, model, dataloader, cores_per_instance, num_instances, warmup, iterations, max_batches
        )

    # artifacts ----------------------------------------------------------------------------
    def save(self, model: Any, folder: Path) -> Path:
        """The model's native files in ``folder`` (created); the main file written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        return Path(self.engine.save(model, folder))

    def read(self, path: Path) -> Any:
        path = Path(path)
        if not path.exists():
            raise ModelError(f"model file {str(path)!r} does not exist")
        return self.engine.read(path)


def choose_output(outputs: Mapping[str, Any], wanted: str | None) -> Any:
    """The output named ``wanted``, or the only output; a multi-output model must say which.

    Scoring the wrong output silently is worse than stopping: a classifier exported with its label
    output first scored 0.08 where it really scores 0.98.
    """
    if wanted is not None:
        if wanted not in outputs:
            raise ConfigError(
                f"model.outputs: the model has no output named {wanted!r}; its outputs are "
                f"{', '.join(map(repr, outputs))}"
            )
        return outputs[wanted]
    if len(outputs) == 1:
        return next(iter(outputs.values()))
    raise ConfigError(
        f"the model has {len(outputs)} outputs ({', '.join(map(repr, outputs))}): say which one the metric "
        "scores with model.outputs: [name] in the config (or --output NAME)"
    )


class _Counted:
    """Input batches of a loader, counting the samples they hold."""

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader
        self.samples = 0

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            inputs = split_batch(batch)[0]
            self.samples += batch_size_of(inputs)
            yield inputs


class _Inputs:
    """The inputs of each batch of a re-iterable loader."""

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            yield split_batch(batch)[0]


def as_backend(obj: Any) -> Backend:
    """A :class:`Backend` for an engine object (or a Backend already)."""
    if isinstance(obj, Backend):
        return obj
    from lpot.plugins import check_engine

    check_engine(obj, where=type(obj).__qualname__)
    return Backend(obj)
