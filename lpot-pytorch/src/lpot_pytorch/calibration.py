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
from lpot.errors import DataError
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
