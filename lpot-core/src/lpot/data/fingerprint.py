"""A fingerprint of data as it is read: sample count, names, dtypes, shapes and a hash of the bytes.

Calibration statistics and a run's results depend on the data, not only on the model and config:
the calibration store keys its entries by it, and resume refuses data that changed. Hashing is
streamed batch by batch, so nothing is held in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

from lpot.data.loaders import batch_size_of, split_batch


def data_fingerprint(batches: Iterable[Any], *, labels: bool = True) -> str:
    """``"<samples>:<sha256 prefix>"`` of the batches (inputs, and labels when ``labels``)."""
    digest = hashlib.sha256()
    samples = 0
    for batch in batches:
        inputs, target = split_batch(batch)
        samples += batch_size_of(inputs)
        _update(digest, "x", inputs)
        if labels and target is not None:
            _update(digest, "y", target)
    return f"{samples}:{digest.hexdigest()[:24]}"


def _update(digest: Any, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _update(digest, f"{name}.{key}", value[key])
        return
    if isinstance(value, (list, tuple)) and value and not np.isscalar(value[0]):
        for i, part in enumerate(value):
            _update(digest, f"{name}[{i}]", part)
        return
    array = np.ascontiguousarray(np.asarray(value))
    digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
    if array.dtype.kind == "O":
        digest.update(repr(array.tolist()).encode())
    else:
        digest.update(array.tobytes())
