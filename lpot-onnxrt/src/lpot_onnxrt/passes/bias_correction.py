"""Empirical bias correction (Nagel et al. 2019, sec. 4.2; AIMET, NNCF): quantization shifts the
mean of a layer's output, and a shifted mean is what a bias can undo.

For each Conv/Gemm/MatMul with a constant weight, ``E[y_fp32] - E[y_int8]`` per output channel is
measured on calibration data, with the quantized model's own inputs (so shifts accumulated
upstream are corrected too), and added to that layer's FP32 bias; the caller then quantizes the
corrected FP32 model again. The quantized layer's pre-activation output is read from the QDQ
graph, where each quantized op keeps its float output tensor name (``QuantizeLinear`` follows it);
asking for that tensor keeps ORT from fusing that one op, which changes rounding, not the mean.
Rounds repeat the measurement on the re-quantized model, since correcting early layers moves the
errors of later ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

from lpot.errors import ConfigError
from lpot_onnxrt.passes._graph import Graph, attribute, copy_model
from lpot_onnxrt.passes.equalization import clip_bounds
from lpot_onnxrt.passes.statistics import probe

Quantize = Callable[[onnx.ModelProto], onnx.ModelProto]


@dataclass(frozen=True)
class BiasCorrection:
    """The corrected FP32 model, its quantized form, and the mean |shift| per round (before each)."""

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


def quantized_names(fp32: onnx.ModelProto, quantized: onnx.ModelProto, layers: Sequence[Layer]) -> dict[str, str]:
    """FP32 layer output -> the tensor holding that layer's float output in the QDQ graph.

    ORT's QDQ quantizer drops a Relu/Clip that follows a Conv (the output quantization range
    clips instead) and lets the Conv write the activation's tensor name: there that name holds
    the *unclipped* conv output, which is what the FP32 conv output must be compared with.
    """
    graph = Graph(fp32)
    producers = {o: n for n in quantized.graph.node for o in n.output}
    names = {}
    for layer in layers:
        if layer.output in producers and producers[layer.output].name == layer.node:
            names[layer.output] = layer.output
            continue
        after = graph.sole_consumer(layer.output)
        if after is not None and after.op_type in ("Relu", "Clip"):
            writer = producers.get(after.output[0])
            if writer is not None and writer.name == layer.node:
                names[layer.output] = after.output[0]
    return names


def measure_shift(
    fp32: onnx.ModelProto, quantized: onnx.ModelProto, dataloader: Iterable[Any], layers: Sequence[Layer]
) -> dict[str, np.ndarray]:
    """Per-channel mean of ``fp32 output - quantized output`` of each layer, by FP32 output tensor,
    over the positions where the FP32 value lies in the following activation's linear range
    (a clipped position's error never reaches the next layer, so it must not move the bias)."""
    mapping = quantized_names(fp32, quantized, layers)
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
    for model, names in ((fp32, [l.output for l in layers]), (quantized, [mapping[l.output] for l in layers])):
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
    rounds: int = 1,
    layers: Sequence[str] | None = None,
) -> BiasCorrection:
    """Bias-corrected FP32 ``model`` and its ``quantize``-d form after ``rounds`` corrections.

    ``quantize`` is the caller's static INT8 (calibrating as it likes); ``layers`` limits the
    correction to those node names.
    """
    if rounds < 1:
        raise ConfigError(f"bias correction rounds={rounds!r}: expected at least 1")
    targets = correctable_layers(model)
    if layers is not None:
        targets = [layer for layer in targets if layer.node in set(layers)]
    current, quantized = model, quantize(model)
    history = []
    for _ in range(rounds):
        shifts = measure_shift(model, quantized, dataloader, targets)
        history.append(float(np.mean([np.abs(s).mean() for s in shifts.values()])) if shifts else 0.0)
        if not shifts:
            break
        current = apply_shift(current, shifts)
        quantized = quantize(current)
    return BiasCorrection(current, quantized, tuple(history), len(targets))
