"""Per-op error of a quantized model against FP32, from the backend's ``inspect``.

Relative MSE ``||q - f||² / ||f||²`` of each op's output on a few batches: which ops lose most in
INT8. Reports show it; an MSE-ranked fallback strategy can order ops by it.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from lpot.backend import Backend
from lpot.recipe import OpKey

log = logging.getLogger("lpot")


def op_errors(
    backend: Backend,
    fp32: Any,
    quantized: Any,
    ops: Sequence[OpKey],
    dataloader: Iterable[Any],
    batches: int = 2,
) -> dict[str, float]:
    """``{op name: relative MSE}`` for the ops both models expose; empty if inspection fails."""
    data = list(itertools.islice(dataloader, batches))
    if not ops or not data:
        return {}
    try:
        ref = backend.inspect(fp32, data, ops)
        got = backend.inspect(quantized, data, ops)
    except Exception as exc:  # a report must not lose a finished run
        log.warning("per-op inspection failed, no sensitivity in the report: %s", exc)
        return {}
    out = {}
    for op in ops:
        a, b = ref.get(op.name), got.get(op.name)
        if a is None or b is None or a.shape != b.shape:
            continue
        denom = float(np.sum(np.square(a, dtype=np.float64)))
        out[op.name] = float(np.sum(np.square(b - a, dtype=np.float64)) / denom) if denom else 0.0
    return out
