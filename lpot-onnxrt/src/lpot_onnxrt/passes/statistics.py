"""Intermediate tensors of an FP32 graph, reduced on the fly while ONNX Runtime runs calibration data.

SmoothQuant needs per-channel maxima of activations and bias correction needs per-channel means of
layer outputs; ORT's own calibrators only keep per-tensor ranges. Adding the wanted tensors as
graph outputs and reducing each batch as it comes keeps memory flat whatever the data size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import onnx

from lpot.data import split_batch
from lpot.errors import DataError
from lpot_onnxrt.passes._graph import copy_model
from lpot_onnxrt.sessions import feeds, make_session

Reducer = Callable[[np.ndarray], np.ndarray]


def _absmax(axis: int) -> Reducer:
    def reduce(array: np.ndarray) -> np.ndarray:
        ax = axis % array.ndim
        return np.abs(array).max(axis=tuple(i for i in range(array.ndim) if i != ax))

    return reduce


def probe(model: onnx.ModelProto, tensors: Sequence[str]) -> onnx.ModelProto:
    """A copy of ``model`` that also outputs ``tensors`` (types left to ORT's inference)."""
    out = copy_model(model)
    have = {o.name for o in out.graph.output}
    for name in tensors:
        if name not in have:
            out.graph.output.append(onnx.ValueInfoProto(name=name))
            have.add(name)
    return out


def run_reduced(
    model: onnx.ModelProto,
    tensors: Sequence[str],
    dataloader: Iterable[Any],
    reduce: Reducer,
    combine: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> tuple[dict[str, np.ndarray], int]:
    """``combine``-folded ``reduce(tensor)`` per tensor over every batch, and the batch count."""
    session = make_session(probe(model, tensors))
    names = [o.name for o in session.get_outputs()]
    wanted = set(tensors)
    folded: dict[str, np.ndarray] = {}
    batches = 0
    for batch in dataloader:
        values = session.run(None, feeds(session, split_batch(batch)[0]))
        for name, value in zip(names, values):
            if name in wanted:
                part = reduce(np.asarray(value, dtype=np.float32))
                folded[name] = part if name not in folded else combine(folded[name], part)
        batches += 1
    if batches == 0:
        raise DataError("the calibration dataloader yielded no batch")
    return folded, batches


def channel_absmax(
    model: onnx.ModelProto, tensors: Sequence[str], dataloader: Iterable[Any], axis: int = -1
) -> dict[str, np.ndarray]:
    """max |x| per channel (``axis``) of each tensor over all calibration data."""
    folded, _ = run_reduced(model, tensors, dataloader, _absmax(axis), np.maximum)
    return folded


def _sum_and_count(axis: int) -> Reducer:
    def reduce(array: np.ndarray) -> np.ndarray:
        ax = axis % array.ndim
        sums = array.sum(axis=tuple(i for i in range(array.ndim) if i != ax))
        return np.stack([sums, np.full_like(sums, array.size / array.shape[ax])])

    return reduce


def channel_mean(
    model: onnx.ModelProto, tensors: Sequence[str], dataloader: Iterable[Any], axis: int = 1
) -> dict[str, np.ndarray]:
    """Mean per channel (``axis``) of each tensor over every element of all calibration data."""
    sums, _ = run_reduced(model, tensors, dataloader, _sum_and_count(axis), np.add)
    return {name: s[0] / s[1] for name, s in sums.items()}


def run_outputs(model: onnx.ModelProto, dataloader: Iterable[Any], index: int = 0) -> list[np.ndarray]:
    """Output ``index`` of the model on every batch (for output-error comparisons)."""
    session = make_session(model)
    return [session.run(None, feeds(session, split_batch(b)[0]))[index] for b in dataloader]
