"""Calibration: the range of every FP32 tensor, collected once and reused by every trial.

``quantize_net`` recalibrates on every call (it runs the data through the FP32 graph inside). lpot
instead runs the data once per (algorithm, sampling size) through the *unfused* FP32 graph (a
``Module`` with a monitor callback, as ``quantize_net_v2`` does, bound with MXNet's subgraph backend
off) and keeps the range of every op's output and of the inputs; each output of oneDNN's fused
graph is also kept by its fused node's name (``sg_mkldnn_conv_bn_act_0_output`` = its clip's
output). Which ops oneDNN fuses differs between the graphs trials build (a BF16 conv fuses with
what AMP kept in BF16; fusion switches, ISA paths), and the fused graph alone has no range for a
tensor it computes inside a node (the conv output before its clip): the unfused one has them all.

``minmax`` is MXNet's ``naive`` mode; ``kl`` its ``entropy`` mode, computed with MXNet's own
histogram merging and ``calibrate_entropy`` kernel. The KL search depends on the signedness the
tensor is quantized with, so for non-negative tensors both answers are kept: ``name`` (searched
over unsigned bins, MXNet ``auto``) and ``name@int8`` (over signed bins).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from lpot.data import batch_size_of
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import DataError
from lpot_mxnet.graph import Graph, tail_outputs, to_ndarrays

ALGORITHMS = ("minmax", "kl")
INT8_SUFFIX = "@int8"
_OUTPUT = re.compile(r"_output\d*$")
SUBGRAPH_ENV = "MXNET_SUBGRAPH_BACKEND"


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


@contextlib.contextmanager
def _unfused_binds() -> Iterator[None]:
    """Executors bound inside run the graph as given: MXNet otherwise re-fuses it for oneDNN at bind
    time (``MXNET_SUBGRAPH_BACKEND``, read per bind), and the monitor then sees only fused nodes."""
    old = os.environ.get(SUBGRAPH_ENV)
    os.environ[SUBGRAPH_ENV] = "NONE"
    try:
        yield
    finally:
        if old is None:
            del os.environ[SUBGRAPH_ENV]
        else:
            os.environ[SUBGRAPH_ENV] = old


def _bind(module: Any, shapes: list[tuple[str, Any]], collector: _Collector, graph: Graph) -> Any:
    """Bind (first batch) or re-bind (a new shape) the unfused graph, with the monitor attached."""
    import mxnet as mx

    with _unfused_binds():
        if module is None:
            module = mx.mod.Module(
                symbol=graph.symbol, context=mx.cpu(), data_names=graph.data_names, label_names=None
            )
            module.bind(for_training=False, data_shapes=shapes)
            module.set_params(graph.args, graph.auxs, allow_missing=False, force_init=True)
        else:  # a short last batch: a new executor, which needs the callback again
            module.reshape(data_shapes=shapes)
    module._exec_group.execs[0].set_monitor_callback(collector.callback, monitor_all=False)
    return module


def with_fused_names(ranges: dict[str, tuple[float, float]], fused: Any) -> dict[str, tuple[float, float]]:
    """``ranges`` plus each fused node's output under the fused name (what capability and users see)."""
    out = dict(ranges)
    for fused_name, tail in tail_outputs(fused).items():
        for suffix in ("", INT8_SUFFIX):
            if tail + suffix in ranges:
                out.setdefault(fused_name + suffix, ranges[tail + suffix])
    return out


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
        if module is None or shapes != bound:
            module, bound = _bind(module, shapes, collector, graph), shapes
        for name, array in zip(graph.data_names, arrays):
            collector.add(name, array.asnumpy())
        module.forward(mx.io.DataBatch(arrays), is_train=False)
        mx.nd.waitall()
        samples += batch_size_of(inputs)
    if samples == 0:
        raise DataError("the calibration dataloader yielded no samples")
    return Stats(spec=spec, ranges=with_fused_names(collector.ranges(), graph.fused()), samples_seen=samples)
