"""Calibration: per-tensor ranges of the FP32 fused graph, collected once and reused by every trial.

``quantize_net`` recalibrates on every call (it runs the data through the FP32 graph inside). lpot
instead runs the data once per (algorithm, sampling size) through the same fused graph MXNet
calibrates (a ``Module`` with a monitor callback, as ``quantize_net_v2`` does), keeps the range of
every layer output and input, and later feeds them to ``quantize_graph``'s thresholds itself.
Which layers fall back never changes these statistics, so any recipe finds its tensors here.

``minmax`` is MXNet's ``naive`` mode; ``kl`` its ``entropy`` mode, computed with MXNet's own
histogram merging and ``calibrate_entropy`` kernel. The KL search depends on the signedness the
tensor is quantized with, so for non-negative tensors both answers are kept: ``name`` (searched
over unsigned bins, MXNet ``auto``) and ``name@int8`` (over signed bins).
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from lpot.data import batch_size_of
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import DataError
from lpot_mxnet.graph import Graph, to_ndarrays

ALGORITHMS = ("minmax", "kl")
INT8_SUFFIX = "@int8"
_OUTPUT = re.compile(r"_output\d*$")


class _Collector:
    """The monitor callback: min/max (minmax) or merged histograms (kl) per layer output."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.min_max: dict[str, tuple[float, float]] = {}
        self.hists: dict[str, tuple[Any, ...]] = {}

    def callback(self, name: Any, handle: Any) -> None:
        from mxnet.base import NDArrayHandle, py_str
        from mxnet.ndarray import NDArray

        name = py_str(name)
        if not _OUTPUT.search(name):
            return
        array = NDArray(ctypes.cast(handle, NDArrayHandle), writable=False)
        self.add(name, array.asnumpy())

    def add(self, name: str, values: np.ndarray) -> None:
        if values.dtype.kind != "f" or values.size == 0:
            return
        low, high = float(values.min()), float(values.max())
        old = self.min_max.get(name)
        self.min_max[name] = (low, high) if old is None else (min(old[0], low), max(old[1], high))
        if self.algorithm == "kl":
            from mxnet.contrib.quantization import combine_histogram

            th = max(abs(low), abs(high))
            if name in self.hists:
                self.hists[name] = combine_histogram(self.hists[name], values, low, high, th)
            else:
                hist, edges = np.histogram(values, bins=8001, range=(-th, th))
                self.hists[name] = (hist, edges, low, high, th)

    def ranges(self) -> dict[str, tuple[float, float]]:
        if self.algorithm == "minmax":
            return dict(self.min_max)
        out = {}
        for name, hist in self.hists.items():
            low, high = self.min_max[name]
            if low >= 0:
                out[name] = (0.0, _kl_threshold(hist, "auto", high))
                # MXNet's entropy mode would give (-th, th) here, but a fused conv+ReLU then emits
                # uint8 with a negative min and the next quantized conv refuses it: keep the sign.
                out[name + INT8_SUFFIX] = (0.0, _kl_threshold(hist, "int8", high))
            else:
                th = _kl_threshold(hist, "int8", max(-low, high))
                out[name] = (-th, th)
        return out


def _kl_threshold(hist: tuple[Any, ...], dtype: str, fallback: float) -> float:
    from mxnet.contrib.quantization import _get_optimal_threshold

    if fallback == 0.0:
        return 0.0
    try:
        _, _, th, _ = _get_optimal_threshold(hist, dtype)
    except (ValueError, AssertionError):  # a degenerate histogram (constant tensor): keep its max
        return float(fallback)
    return float(np.asarray(th).reshape(-1)[0])


def calibrate(graph: Graph, batches: Iterable[Any], spec: CalibrationSpec) -> Stats:
    import mxnet as mx

    if spec.algorithm not in ALGORITHMS:
        raise DataError(
            f"calibration algorithm {spec.algorithm!r} is not supported by MXNet; use one of {list(ALGORITHMS)}"
        )
    collector = _Collector(spec.algorithm)
    module = None
    bound: list[tuple[str, Any]] = []
    samples = 0
    for inputs in batches:
        arrays = to_ndarrays(inputs, graph.data_names)
        shapes = [(n, a.shape) for n, a in zip(graph.data_names, arrays)]
        if module is None:
            module = mx.mod.Module(
                symbol=graph.fused(), context=mx.cpu(), data_names=graph.data_names, label_names=None
            )
            module.bind(for_training=False, data_shapes=shapes)
            module.set_params(graph.args, graph.auxs, allow_missing=False, force_init=True)
            bound = shapes
            module._exec_group.execs[0].set_monitor_callback(collector.callback, monitor_all=False)
        elif shapes != bound:  # a short last batch: a new executor, which needs the callback again
            module.reshape(data_shapes=shapes)
            bound = shapes
            module._exec_group.execs[0].set_monitor_callback(collector.callback, monitor_all=False)
        for name, array in zip(graph.data_names, arrays):
            collector.add(name, array.asnumpy())
        module.forward(mx.io.DataBatch(arrays), is_train=False)
        mx.nd.waitall()
        samples += batch_size_of(inputs)
    if samples == 0:
        raise DataError("the calibration dataloader yielded no samples")
    return Stats(spec=spec, ranges=collector.ranges(), samples_seen=samples)
