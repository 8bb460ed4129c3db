"""Calibration with ORT's calibrators, returning plain per-tensor ranges (lpot ``Stats``).

Every float tensor of the graph is calibrated, whatever the recipe, so the same statistics serve
every trial: which ops fall back never changes them.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from lpot.data import batch_size_of
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import DataError
from lpot_onnxrt.model_io import save_model
from lpot_onnxrt.sessions import feeds, make_session

ALGORITHMS = {"minmax": "MinMax", "kl": "Entropy", "percentile": "Percentile"}
# ORT's Entropy defaults (128 bins, 128 quantized bins) leave the KL search a single candidate, the
# full range: "kl" then equals minmax exactly (measured on every tensor of the digits CNN). 512 bins
# searched for 128 quantized levels per side: the KL search is numpy in ORT, and with TensorRT's
# 2048 bins it took 280 s on all-MiniLM-L6-v2 (512: a few seconds) for a few bins' resolution.
EXTRA_OPTIONS: dict[str, dict[str, int]] = {
    "minmax": {"max_intermediate_outputs": 16},
    "kl": {"num_bins": 512, "num_quantized_bins": 128},
    "percentile": {},
}


class _Reader:
    """ORT's CalibrationDataReader duck type over lpot batches, checking each batch's inputs."""

    def __init__(self, model: onnx.ModelProto, batches: Iterable[Any]) -> None:
        self._session = make_session(model)  # only to read and check the input specs
        self._feeds: Iterator[dict[str, np.ndarray]] = (feeds(self._session, inputs) for inputs in batches)
        self.samples = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed = next(self._feeds, None)
        if feed is not None:
            self.samples += batch_size_of(feed)
        return feed

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        while (item := self.get_next()) is not None:
            yield item

    def __len__(self) -> int:  # some calibrators ask; unknown ahead for a stream
        return 0


def _collect(calibrator: Any, reader: _Reader, algorithm: str) -> None:
    """Run the calibration data through ORT's calibrator.

    ORT's histogram calibrators (Entropy, Percentile) stack all the batches of one ``collect_data``
    call into one array, which fails on a short last batch and on batches of other sequence
    lengths (a text loader padding each batch to its longest sentence). Their histograms merge
    across calls, so they are given one batch per call; MinMax takes the stream in one call.
    """
    if algorithm == "minmax":
        calibrator.collect_data(reader)
        return
    for feed in reader:
        calibrator.collect_data(_Once(feed))
    if reader.samples == 0:
        raise DataError("the calibration dataloader yielded no samples")


class _Once:
    """A data reader of one batch."""

    def __init__(self, feed: dict[str, np.ndarray]) -> None:
        self.feed: dict[str, np.ndarray] | None = feed

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed, self.feed = self.feed, None
        return feed


def calibrate(model: onnx.ModelProto, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
    """Ranges of every float tensor of the model as the spec's graph options transform it
    (:mod:`lpot_onnxrt.graph_options`), with what that transform needs again as artifacts."""
    if spec.algorithm not in ALGORITHMS:
        raise DataError(f"calibration algorithm {spec.algorithm!r} is not one of {sorted(ALGORITHMS)}")
    if not spec.graph:
        return _ranges(model, batches, spec)
    from lpot_onnxrt.graph_options import prepare_calibration

    transformed, artifacts = prepare_calibration(model, spec.graph_options, batches)
    stats = _ranges(transformed, batches, spec)
    return Stats(spec=spec, ranges=stats.ranges, samples_seen=stats.samples_seen, artifacts=artifacts)


def _ranges(model: onnx.ModelProto, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
    """Ranges of every float tensor. A histogram calibration that meets a tensor with infinite
    values (an exported attention mask: ``(1 - mask) * -inf``) ranges that tensor by its min/max,
    clipped to float32, and the others by their histograms (numpy cannot histogram infinities)."""
    try:
        return _calibrate(model, batches, spec, skip=set())
    except ValueError as exc:
        if spec.algorithm == "minmax" or "is not finite" not in str(exc):
            raise
    minmax = _calibrate(model, batches, replace(spec, algorithm="minmax"), skip=set())
    infinite = {t for t, (lo, hi) in minmax.ranges.items() if not (np.isfinite(lo) and np.isfinite(hi))}
    stats = _calibrate(model, batches, spec, skip=infinite)
    limit = float(np.finfo(np.float32).max)
    clipped = {t: (max(minmax.ranges[t][0], -limit), min(minmax.ranges[t][1], limit)) for t in infinite}
    return Stats(spec=spec, ranges={**stats.ranges, **clipped}, samples_seen=stats.samples_seen)


def _calibrate(
    model: onnx.ModelProto, batches: Iterable[Any], spec: CalibrationSpec, skip: set[str]
) -> Stats:
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    reader = _Reader(model, batches)
    with tempfile.TemporaryDirectory(prefix="lpot-ort-calib-") as tmp:
        path = save_model(model, Path(tmp) / "model.onnx")
        calibrator = create_calibrator(
            path,
            None,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, ALGORITHMS[spec.algorithm]),
            extra_options=EXTRA_OPTIONS[spec.algorithm],
        )
        if skip:  # histogram calibrators: leave out tensors they cannot histogram
            calibrator.tensors_to_calibrate = {t for t in calibrator.tensors_to_calibrate if t not in skip}
        with contextlib.redirect_stdout(io.StringIO()):  # ORT's histogram calibrators print progress
            try:
                _collect(calibrator, reader, spec.algorithm)
            except DataError:
                raise
            except ValueError:
                if reader.samples == 0:
                    raise DataError("the calibration dataloader yielded no samples") from None
                raise
            data = calibrator.compute_data()
        del calibrator
    ranges = {}
    for name, tensor in data.items():
        low, high = tensor.range_value
        ranges[name] = (float(np.asarray(low).min()), float(np.asarray(high).max()))
    return Stats(spec=spec, ranges=ranges, samples_seen=reader.samples)
