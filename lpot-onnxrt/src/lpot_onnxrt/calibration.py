"""Calibration with ORT's calibrators, returning plain per-tensor ranges (lpot ``Stats``).

Every float tensor of the graph is calibrated, whatever the recipe, so the same statistics serve
every trial: which ops fall back never changes them.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Iterable, Iterator
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
# full range: "kl" then equals minmax exactly (measured on every tensor of the digits CNN). 2048
# bins searched for 128 quantized levels per side is the TensorRT recipe the method comes from.
EXTRA_OPTIONS: dict[str, dict[str, int]] = {
    "minmax": {"max_intermediate_outputs": 16},
    "kl": {"num_bins": 2048, "num_quantized_bins": 128},
    "percentile": {},
}


class _Reader:
    """ORT's CalibrationDataReader duck type over lpot batches, checking each batch's inputs."""

    def __init__(self, model: onnx.ModelProto, batches: Iterable[Any]) -> None:
        self._session = make_session(model)  # only to read and check the input specs
        self._feeds: Iterator[dict[str, np.ndarray]] = (feeds(self._session, inputs) for inputs in batches)
        self.samples = 0

    def uniform(self) -> None:
        """Re-cut the (already sampling-size-limited) data into equal batches.

        ORT's histogram calibrators (Entropy, Percentile) stack every batch's outputs into one
        array and fail on a short last batch, so they get batches of the largest size that divides
        the sample count and is no larger than the first batch.
        """
        chunks = list(self._feeds)
        if not chunks:
            return
        names = list(chunks[0])
        whole = {n: np.concatenate([c[n] for c in chunks]) for n in names}
        total, first = len(whole[names[0]]), len(chunks[0][names[0]])
        size = max(d for d in range(1, first + 1) if total % d == 0)
        self._feeds = iter([{n: whole[n][i : i + size] for n in names} for i in range(0, total, size)])

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


def calibrate(model: onnx.ModelProto, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    if spec.algorithm not in ALGORITHMS:
        raise DataError(f"calibration algorithm {spec.algorithm!r} is not one of {sorted(ALGORITHMS)}")
    reader = _Reader(model, batches)
    if spec.algorithm != "minmax":
        reader.uniform()
    with tempfile.TemporaryDirectory(prefix="lpot-ort-calib-") as tmp:
        path = save_model(model, Path(tmp) / "model.onnx")
        extra = EXTRA_OPTIONS[spec.algorithm]
        calibrator = create_calibrator(
            path,
            None,
            augmented_model_path=str(Path(tmp) / "augmented.onnx"),
            calibrate_method=getattr(CalibrationMethod, ALGORITHMS[spec.algorithm]),
            extra_options=extra,
        )
        with contextlib.redirect_stdout(io.StringIO()):  # ORT's histogram calibrators print progress
            try:
                calibrator.collect_data(reader)
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
