"""Calibration: one pass over the data per spec, returning plain per-tensor ranges.

``minmax`` is the TFLite calibrator's own: a calibrate-only conversion records min/max on every
activation. ``kl`` and ``percentile`` need histograms, which it does not keep: the calibrated
graph is built from one sample (as a resumed run rebuilds it; its ranges are all replaced), then
every batch runs through it once in the interpreter (builtin kernels, every tensor kept) and lpot
histograms the tensors the calibrator ranges (:mod:`~lpot_tensorflow.histograms`).

The calibrated float graph it produces is also the *template* every trial quantizes from (ranges
overwritten with the given ones first). It travels with the statistics as their artifact
(``Stats.artifacts["tflite_template"]``), which lpot's calibration store keeps next to the ranges,
so a resumed run quantizes from the very same graph without data. Keras models and SavedModels
differ only in their :class:`~lpot_tensorflow.sources.GraphSource`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpot.data import batch_size_of, split_batch
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import ConfigError, DataError
from lpot_tensorflow import tflite
from lpot_tensorflow.sources import GraphSource, source_for

ALGORITHMS = ("minmax", "kl", "percentile")  # lpot's names, as the other backends and the config use


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


TEMPLATE = "tflite_template"  # the artifact name of the calibrated float graph


def template_of(model: Any, content: bytes) -> Template:
    """The template of ``model`` whose calibrated float graph is ``content`` (a stored artifact)."""
    source = source_for(model)
    return Template(content, source, source.locate(content), source.inputs())


def calibrate(model: Any, inputs: Iterable[Any], spec: CalibrationSpec) -> Stats:
    if spec.algorithm not in ALGORITHMS:
        raise ConfigError(
            f"calibration algorithm {spec.algorithm!r} is not available with TFLite; use {list(ALGORITHMS)}"
        )
    batches = list(inputs)
    if not batches:
        raise DataError("the calibration dataloader yielded no batch: TFLite INT8 needs representative data")
    seen = sum(batch_size_of(b) for b in batches)
    if spec.algorithm == "minmax":
        template = build_template(model, batches)
        ranges = tflite.read_ranges(template.content)
    else:
        template = build_template(model, [_head(batches[0], 1)])  # every range is replaced below
        ranges = histogram_ranges(template, batches, spec.algorithm)
    return Stats(spec=spec, ranges=ranges, samples_seen=seen, artifacts={TEMPLATE: template.content})


def histogram_ranges(
    template: Template, batches: list[Any], algorithm: str
) -> dict[str, tuple[float, float]]:
    """``kl`` / ``percentile`` ranges of every tensor the calibrated graph ranges, in one pass."""
    from lpot_tensorflow.histograms import MagnitudeHistogram
    from lpot_tensorflow.intermediates import tensor_values
    from lpot_tensorflow.runtime import TFLiteModel

    names = list(tflite.read_ranges(template.content))
    graph = TFLiteModel(tflite.embed_metadata(template.content, {"inputs": template.inputs}))
    histograms = {name: MagnitudeHistogram() for name in names}
    for values in tensor_values(graph, batches, names, delegates=False):
        for name, value in values.items():
            histograms[name].add(value)
    return {name: histograms[name].range(algorithm) for name in names}
