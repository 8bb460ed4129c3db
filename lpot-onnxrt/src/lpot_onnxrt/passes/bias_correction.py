"""Empirical bias correction (Nagel et al. 2019, sec. 4.2; AIMET, NNCF): quantization shifts the
mean of a layer's output, and a shifted mean is what a bias can undo.

For each Conv/Gemm/MatMul with a constant weight, ``E[y_fp32] - E[y_int8]`` per output channel is
measured on calibration data, with the quantized model's own inputs (so shifts accumulated
upstream are corrected too), and added to that layer's FP32 bias; the caller then quantizes the
corrected FP32 model again. The quantized layer's pre-activation output is read from the QDQ
graph, where each quantized op keeps its float output tensor name (``QuantizeLinear`` follows it);
asking for that tensor keeps ORT from fusing that one op, which changes rounding, not the mean.
Layers are corrected one at a time in graph order, each measured on the model re-quantized
after the corrections upstream of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from lpot_onnxrt.passes._graph import Graph, attribute, copy_model
from lpot_onnxrt.passes.equalization import clip_bounds
from lpot_onnxrt.passes.statistics import probe

Quantize = Callable[[onnx.ModelProto], onnx.ModelProto]


@dataclass(frozen=True)
class BiasCorrection:
    """The corrected FP32 model, its quantized form, and each corrected layer's mean |shift|."""

    model: onnx.ModelProto
    quantized: onnx.ModelProto
    mean_shift: tuple[float, ...] = field(default_factory=tuple)
    layers: int = 0


@dataclass(frozen=True)
class Layer:
    """A correctable layer: its node, output tensor, channel axis, and the linear range of the
    Relu/Clip after it (the shift only matters where the activation passes values through)."""

    node: str
    output: str
    axis: int
    low: float = -np.inf
    high: float = np.inf


def correctable_layers(model: onnx.ModelProto) -> list[Layer]:
    """Conv (channels on axis 1) / Gemm / MatMul (last axis) layers with a constant weight."""
    graph = Graph(model)
    layers = []
    for node in model.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul") or len(node.input) < 2:
            continue
        if graph.array(node.input[1]) is None or attribute(node, "transA", 0):
            continue
        low, high = -np.inf, np.inf
        after = graph.sole_consumer(node.output[0])
        if after is not None and after.op_type == "Relu":
            low = 0.0
        elif after is not None and after.op_type == "Clip":
            low, high = clip_bounds(graph, after) or (low, high)
        layers.append(Layer(node.name, node.output[0], 1 if node.op_type == "Conv" else -1, low, high))
    return layers


def quantized_names(quantized: onnx.ModelProto, layers: Sequence[Layer]) -> dict[str, str]:
    """FP32 layer output -> the tensor holding that layer's float output in the QDQ graph.

    QDQ keeps each quantized op's node name but not always its output name: ORT drops a Relu/Clip
    after a Conv (the output quantization range clips instead) and lets the Conv write the
    activation's tensor, and a graph output gets a new producer name. Following the node name
    finds the *unclipped* float output, which is what the FP32 output must be compared with.
    """
    writers = {n.name: n.output[0] for n in quantized.graph.node if n.output}
    return {layer.output: writers[layer.node] for layer in layers if layer.node in writers}


def measure_shift(
    fp32: onnx.ModelProto, quantized: onnx.ModelProto, dataloader: Iterable[Any], layers: Sequence[Layer]
) -> dict[str, np.ndarray]:
    """Per-channel mean of ``fp32 output - quantized output`` of each layer, by FP32 output tensor,
    over the positions where the FP32 value lies in the following activation's linear range
    (a clipped position's error never reaches the next layer, so it must not move the bias)."""
    mapping = quantized_names(quantized, layers)
    layers = [layer for layer in layers if layer.output in mapping]
    if not layers:
        return {}
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for reference, measured in paired_outputs(fp32, quantized, dataloader, layers, mapping):
        for layer in layers:
            f, q = reference[layer.output], measured[mapping[layer.output]]
            inside = (f > layer.low) & (f < layer.high)
            axes = tuple(i for i in range(f.ndim) if i != layer.axis % f.ndim)
            diff = np.where(inside, f - q, 0.0).sum(axis=axes)
            sums[layer.output] = sums.get(layer.output, 0.0) + diff
            counts[layer.output] = counts.get(layer.output, 0.0) + inside.sum(axis=axes)
    return {name: (sums[name] / np.maximum(counts[name], 1)).astype(np.float32) for name in sums}


def paired_outputs(
    fp32: onnx.ModelProto,
    quantized: onnx.ModelProto,
    dataloader: Iterable[Any],
    layers: Sequence[Layer],
    mapping: dict[str, str],
) -> Iterable[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """The layers' outputs of both models on the same batch, one batch at a time."""
    from lpot.data import split_batch
    from lpot_onnxrt.sessions import feeds, make_session

    sessions = []
    outputs = [layer.output for layer in layers]
    for model, names in ((fp32, outputs), (quantized, [mapping[name] for name in outputs])):
        session = make_session(probe(model, names))
        sessions.append((session, [o.name for o in session.get_outputs()], set(names)))
    for batch in dataloader:
        inputs = split_batch(batch)[0]
        yield tuple(
            {n: v for n, v in zip(out_names, s.run(None, feeds(s, inputs))) if n in wanted}
            for s, out_names, wanted in sessions
        )


def apply_shift(model: onnx.ModelProto, shifts: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy with each layer's bias raised by its output shift (a MatMul's through the bias Add
    that follows it; a MatMul with no bias Add is left alone)."""
    out = copy_model(model)
    graph = Graph(out)
    for node in list(out.graph.node):
        shift = shifts.get(node.output[0])
        if shift is None:
            continue
        if node.op_type == "MatMul":
            add = graph.sole_consumer(node.output[0])
            at = _constant_input(graph, add) if add is not None and add.op_type == "Add" else None
            if at is not None:
                graph.set(add.input[at], (graph.array(add.input[at]) + shift).astype(np.float32))
            continue
        if len(node.input) > 2 and node.input[2]:
            bias = np.broadcast_to(graph.array(node.input[2]), shift.shape)
        else:
            bias = np.zeros_like(shift)
            node.input.extend([""] * (3 - len(node.input)))
            node.input[2] = graph.unique_name(f"{node.name}_bias")
        graph.set(node.input[2], (bias + shift).astype(np.float32))
    return out


def _constant_input(graph: Graph, node: onnx.NodeProto) -> int | None:
    return next((i for i, name in enumerate(node.input) if graph.array(name) is not None), None)


def correct_bias(
    model: onnx.ModelProto,
    quantize: Quantize,
    dataloader: Iterable[Any],
    *,
    layers: Sequence[str] | None = None,
) -> BiasCorrection:
    """Bias-corrected FP32 ``model`` and its ``quantize``-d form, layer by layer in graph order.

    Sequential on purpose: correcting every layer from one measurement overshoots, because each
    downstream shift was measured with the upstream errors that the same step removes (on a
    50-conv EfficientNet that diverged; on a 4-layer chain one simultaneous round made the output
    bias worse and it took four to converge). ``quantize`` must reuse the ranges calibrated on
    the original model (lpot's cached statistics do): recalibrating a bias-shifted FP32 graph
    would chase its drift. ``layers`` limits the correction to those node names.
    """
    targets = correctable_layers(model)
    if layers is not None:
        targets = [layer for layer in targets if layer.node in set(layers)]
    current, quantized = model, quantize(model)
    history = []
    for layer in targets:
        shift = measure_shift(model, quantized, dataloader, [layer]).get(layer.output)
        if shift is None:
            continue
        history.append(float(np.abs(shift).mean()))
        current = apply_shift(current, {layer.output: shift})
        if not _patch_quantized_bias(quantized, layer.node, shift):
            quantized = quantize(current)
    return BiasCorrection(current, quantized, tuple(history), len(targets))


def _patch_quantized_bias(quantized: onnx.ModelProto, node_name: str, shift: np.ndarray) -> bool:
    """Add ``shift`` to a QDQ layer's int32 bias in place (what re-quantizing the corrected FP32
    model would write, since its ranges are fixed), saving a full quantizer run per layer."""
    graph = Graph(quantized)
    node = next((n for n in quantized.graph.node if n.name == node_name), None)
    if node is None or node.op_type not in ("Conv", "Gemm") or len(node.input) < 3:
        return False
    dq = graph.producer.get(node.input[2])
    if dq is None or dq.op_type != "DequantizeLinear" or len(graph.consumers[dq.input[0]]) != 1:
        return False
    values, scale = graph.array(dq.input[0]), graph.array(dq.input[1])
    if values is None or scale is None or values.dtype != np.int32 or values.shape != shift.shape:
        return False
    steps = np.round(shift / np.broadcast_to(scale, shift.shape)).astype(np.int64)
    graph.set(dq.input[0], np.clip(values.astype(np.int64) + steps, -(2**31), 2**31 - 1).astype(np.int32))
    return True
