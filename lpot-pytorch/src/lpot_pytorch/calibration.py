"""Calibration: one pass of the FP32 model with every op observed, returning plain ranges.

Which ops fall back never changes what an observer sees, so these ranges serve every trial of the
run (and are cached as JSON by the core); quantization then sets them, it never re-runs data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from torch import nn

from lpot.data import batch_size_of
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import DataError, QuantizationError
from lpot.recipe import OpKey
from lpot_pytorch.capability import STATIC, build_capability
from lpot_pytorch.fx import calibrate as run_batches
from lpot_pytorch.fx import observed_ranges, prepare_with
from lpot_pytorch.qconfig import calibration_mapping


def calibrate(
    model: nn.Module, inputs: Iterable[Any], spec: CalibrationSpec, leaf_modules: Sequence[str] = ()
) -> Stats:
    capability = build_capability(model, STATIC, leaf_modules)
    ops: dict[OpKey, Any] = {key: cap.default() for key, cap in capability.opwise.items()}
    batches = list(inputs)
    if not batches:
        raise DataError("the calibration dataloader yielded no batch")
    prepared = prepare_with(model, calibration_mapping(ops, spec.algorithm), batches[0], leaf_modules)
    run_batches(prepared, batches)
    return Stats(
        spec=spec, ranges=observed_ranges(prepared), samples_seen=sum(batch_size_of(b) for b in batches)
    )


def calibrate_pt2e(
    exported: Any, inputs: dict[str, Any], ops: Sequence[str], batches: list[Any], spec: CalibrationSpec
) -> Stats:
    """The pt2e twin of :func:`calibrate`: every op INT8 under the algorithm's observer, one pass;
    ranges keyed by the exported graph's tensor names, the exported inputs kept as an artifact so a
    resumed run (statistics from the cache, no data seen) exports the same graph again."""
    from lpot_pytorch import pt2e

    observer = {"minmax": "MinMaxObserver", "kl": "HistogramObserver"}.get(spec.algorithm)
    if observer is None:
        raise QuantizationError(
            f"calibration algorithm '{spec.algorithm}' is not supported by PyTorch (minmax, kl)"
        )
    if not batches:
        raise DataError("the calibration dataloader yielded no batch")
    observer_class = getattr(pt2e.torchao().pt2e, observer)
    prepared = pt2e.prepare(exported, dict.fromkeys(ops, True), observer_class, reduce_range=False)
    pt2e.calibrate(prepared, batches)
    return Stats(
        spec=spec,
        ranges=pt2e.observed_ranges(prepared),
        samples_seen=sum(batch_size_of(b) for b in batches),
        artifacts={pt2e.INPUTS_ARTIFACT: pt2e.spec_bytes(inputs)},
    )
