"""Calibration: one calibrate-only TFLite conversion per spec, returning plain per-tensor ranges.

The calibrated float graph it produces is also the *template* every trial quantizes from (ranges
overwritten with the given Stats first). A backend keeps it per model fingerprint; when it is
missing (a resumed run in a new process) :func:`template_from_example` rebuilds the same graph
from one synthetic batch, whose ranges are then all replaced by the stored ones. Keras models and
SavedModels differ only in their :class:`~lpot_tensorflow.sources.GraphSource`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpot.backend import CalibrationSpec, Stats
from lpot.data import batch_size_of, split_batch
from lpot.errors import ConfigError, DataError
from lpot_tensorflow import tflite
from lpot_tensorflow.sources import GraphSource, source_for

ALGORITHMS = ("minmax",)  # what the TFLite calibrator records


@dataclass
class Template:
    """A calibrated float TFLite graph of one model, the source it came from and its op -> ops map."""

    content: bytes
    source: GraphSource
    layers: dict[str, tflite.LayerOps]
    inputs: list[str]


def take(dataloader: Iterable[Any], sampling_size: int) -> list[Any]:
    """The first ``sampling_size`` samples of the loader as input batches (last one trimmed)."""
    batches, seen = [], 0
    for batch in dataloader:
        inputs = split_batch(batch)[0]
        n = batch_size_of(inputs)
        if seen + n > sampling_size:
            inputs = _head(inputs, sampling_size - seen)
            n = sampling_size - seen
        if n > 0:
            batches.append(inputs)
            seen += n
        if seen >= sampling_size:
            break
    return batches


def _head(inputs: Any, n: int) -> Any:
    if isinstance(inputs, dict):
        return {k: np.asarray(v)[:n] for k, v in inputs.items()}
    if isinstance(inputs, (list, tuple)):
        return [np.asarray(v)[:n] for v in inputs]
    return np.asarray(inputs)[:n]


def build_template(model: Any, batches: list[Any]) -> Template:
    source = source_for(model)
    content = tflite.convert(source, batches)
    return Template(content, source, source.locate(content), source.inputs())


def calibrate(model: Any, dataloader: Iterable[Any], spec: CalibrationSpec) -> tuple[Stats, Template]:
    if spec.algorithm not in ALGORITHMS:
        raise ConfigError(
            f"calibration algorithm {spec.algorithm!r} is not available with TFLite; use {list(ALGORITHMS)}"
        )
    batches = take(dataloader, spec.sampling_size)
    if not batches:
        raise DataError("the calibration dataloader yielded no batch: TFLite INT8 needs representative data")
    template = build_template(model, batches)
    seen = sum(batch_size_of(b) for b in batches)
    return Stats(spec=spec, ranges=tflite.read_ranges(template.content), samples_seen=seen), template


def synthetic_batch(model: Any, example: Any = None) -> Any:
    """One batch with the model's input shapes: a remembered real batch's first sample, else zeros."""
    if example is not None:
        return _head(example, 1)
    return source_for(model).zeros()


def template_from_example(model: Any, example: Any = None) -> Template:
    return build_template(model, [synthetic_batch(model, example)])
