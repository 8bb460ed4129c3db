"""SmoothQuant (Xiao et al. 2023): move activation outliers into the weights before static INT8.

A MatMul ``X @ W`` equals ``(X / s) @ (s * W)`` for any per-input-channel ``s > 0``. Choosing
``s = max|X|^a / max|W|^(1-a)`` flattens the few huge activation channels that make a per-tensor
activation scale useless, at the price of wider weight rows (which per-channel weight scales
absorb). ``1 / s`` must be paid somewhere; it is folded where that is free:

- into a LayerNormalization's gamma/beta when the MatMuls are its only readers (pre-LN models);
- into the preceding MatMul (+ bias Add)'s output columns, directly or through BERT's
  ``Reshape -> Transpose -> probs @ V -> Transpose -> Reshape`` (the V -> output projection);
- into the constant of a ``Mul`` producing X, or of a ``Mul``-by-constant one step before it
  (the ``x * 0.5`` of an exported erf-GELU feeding the second FFN MatMul).

Post-LN encoders (BERT, MiniLM) feed each LayerNorm's output to the residual Add as well, so that
fold would change the residual stream; there ``insert_mul=True`` adds one elementwise ``Mul`` (a
[batch, seq, hidden] multiply, negligible next to the GEMMs) and ``False`` leaves the group alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper

from lpot.errors import ConfigError
from lpot_onnxrt.passes._graph import Graph, attribute, copy_model
from lpot_onnxrt.passes.statistics import channel_absmax

FOLDS = ("layernorm", "matmul", "mul", "inserted")


@dataclass(frozen=True)
class SmoothGroup:
    """MatMuls reading one activation tensor (Q, K and V share theirs); ``exclusive`` when nothing
    else reads it, which upstream folds require (a residual Add reading it would be rescaled too)."""

    activation: str
    matmuls: tuple[str, ...]
    exclusive: bool


@dataclass(frozen=True)
class SmoothResult:
    model: onnx.ModelProto
    alpha: float
    folds: dict[str, int] = field(default_factory=dict)  # fold kind -> groups smoothed that way
    skipped: tuple[str, ...] = ()  # activations left alone (no free fold, insert_mul=False)


def _weight(graph: Graph, node: onnx.NodeProto) -> tuple[np.ndarray, str] | None:
    """A MatMul's / Gemm's constant weight as [in, out] and its initializer name."""
    if len(node.input) < 2 or graph.array(node.input[1]) is None:
        return None
    w = graph.array(node.input[1])
    if w.ndim != 2 or w.dtype != np.float32:
        return None
    if node.op_type == "Gemm":
        if attribute(node, "transA", 0):
            return None
        return (w.T if attribute(node, "transB", 0) else w), node.input[1]
    return w, node.input[1]


def find_groups(model: onnx.ModelProto) -> list[SmoothGroup]:
    """Activation tensors read by MatMul/Gemm nodes with constant 2-D FP32 weights."""
    graph = Graph(model)
    groups = []
    for tensor, readers in graph.consumers.items():
        if graph.is_constant(tensor):
            continue
        linear = [
            (n, w)
            for n in readers
            if n.op_type in ("MatMul", "Gemm") and n.input[0] == tensor and (w := _weight(graph, n))
        ]
        if linear and len({w[0].shape[0] for _, w in linear}) == 1:
            exclusive = len(linear) == len(readers) and tensor not in graph.outputs
            groups.append(SmoothGroup(tensor, tuple(n.name for n, _ in linear), exclusive))
    return groups


def activation_maxima(
    model: onnx.ModelProto, dataloader: Iterable[Any], groups: Sequence[SmoothGroup] | None = None
) -> dict[str, np.ndarray]:
    """Per-channel max |X| (last axis) of every group's activation, over the calibration data."""
    groups = find_groups(model) if groups is None else groups
    return channel_absmax(model, [g.activation for g in groups], dataloader, axis=-1)


def smoothing_scales(act_max: np.ndarray, weight_max: np.ndarray, alpha: float) -> np.ndarray:
    """``s = max|X|^a / max|W|^(1-a)`` per input channel; 1 where a channel never fired."""
    act = np.maximum(act_max.astype(np.float64), 1e-5)
    wgt = np.maximum(weight_max.astype(np.float64), 1e-5)
    scales = act**alpha / wgt ** (1.0 - alpha)
    scales = np.where(act_max > 0, scales, 1.0)
    return np.clip(scales, 1e-4, 1e4).astype(np.float32)


def smooth(
    model: onnx.ModelProto,
    maxima: dict[str, np.ndarray],
    alpha: float = 0.5,
    *,
    insert_mul: bool = True,
) -> SmoothResult:
    """A copy of ``model`` smoothed at ``alpha`` with the activation ``maxima`` gathered on it.

    FP32 outputs are unchanged up to rounding; where no free fold exists, ``insert_mul`` decides.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"SmoothQuant alpha={alpha!r}: expected a number in [0, 1]")
    out = copy_model(model)
    graph = Graph(out)
    nodes = {n.name: n for n in out.graph.node}
    folds: dict[str, int] = {}
    skipped = []
    for group in find_groups(out):
        if group.activation not in maxima:
            continue
        readers = [nodes[name] for name in group.matmuls]
        weights = [_weight(graph, n) for n in readers]
        weight_max = np.max([np.abs(w).max(axis=1) for w, _ in weights], axis=0)
        scales = smoothing_scales(maxima[group.activation], weight_max, alpha)
        kind = (_fold_inverse(graph, group.activation, scales) if group.exclusive else None) or (
            _insert_mul(graph, group.activation, readers, scales) if insert_mul else None
        )
        if kind is None:
            skipped.append(group.activation)
            continue
        for node, (w, _) in zip(readers, weights):
            scaled = w * scales[:, None]
            transposed = node.op_type == "Gemm" and attribute(node, "transB", 0)
            graph.set(_private(graph, node, 1), scaled.T if transposed else scaled)
        folds[kind] = folds.get(kind, 0) + 1
    return SmoothResult(out, alpha, folds, tuple(skipped))


def _private(graph: Graph, node: onnx.NodeProto, index: int) -> str:
    """Name of an initializer only ``node`` reads (copied first when other nodes share it)."""
    name = node.input[index]
    if len(graph.consumers.get(name, [])) > 1:
        new = graph.unique_name(f"{name}_smoothed")
        graph.set(new, graph.array(name))
        graph.consumers[name].remove(node)
        graph.consumers[new] = [node]
        node.input[index] = new
        return new
    return name


def _fold_inverse(graph: Graph, tensor: str, scales: np.ndarray) -> str | None:
    """Divide channel k of ``tensor`` by ``scales[k]`` upstream, where that costs nothing."""
    node = graph.producer.get(tensor)
    if node is None:
        return None
    if node.op_type == "LayerNormalization" and attribute(node, "axis", -1) in (-1,) and len(node.input) > 1:
        if all(graph.array(name) is not None for name in node.input[1:]):
            for index in range(1, len(node.input)):
                name = _private(graph, node, index)
                graph.set(name, graph.array(name) / scales)
            return "layernorm"
        return None
    if _divide_linear_output(graph, node, scales):
        return "matmul"
    value = _through_attention_value(graph, node)
    if value is not None and _divide_linear_output(graph, value, scales):
        return "matmul"
    if node.op_type == "Mul" and _divide_mul(graph, node, scales):
        return "mul"
    return None


def _divide_linear_output(graph: Graph, node: onnx.NodeProto, scales: np.ndarray) -> bool:
    """Output columns of ``MatMul(x, W)`` or ``Add(MatMul(x, W), b)`` divided by ``scales``."""
    bias_at = None
    if node.op_type == "Add":
        bias_at = next((i for i, n in enumerate(node.input) if graph.array(n) is not None), None)
        inner = graph.producer.get(node.input[1 - bias_at]) if bias_at is not None else None
        if inner is None or graph.sole_consumer(inner.output[0]) is not node:
            return False
        bias = graph.array(node.input[bias_at])
        if bias.shape != scales.shape:
            return False
        node, add = inner, node
    if node.op_type not in ("MatMul", "Gemm"):
        return False
    found = _weight(graph, node)
    if found is None or found[0].shape[1] != scales.shape[0]:
        return False
    if node.op_type == "Gemm" and len(node.input) > 2:
        return False  # Gemm's own bias: rare after export, not worth the extra case
    weight = found[0] / scales[None, :]
    transposed = node.op_type == "Gemm" and attribute(node, "transB", 0)
    graph.set(_private(graph, node, 1), weight.T if transposed else weight)
    if bias_at is not None:
        graph.set(_private(graph, add, bias_at), bias / scales)
    return True


_HEADS_PERM = [0, 2, 1, 3]


def _through_attention_value(graph: Graph, node: onnx.NodeProto) -> onnx.NodeProto | None:
    """From the context Reshape back to the V projection (``probs @ V`` keeps V's channels)."""
    steps = [("Reshape", 0), ("Transpose", 0), ("MatMul", 1), ("Transpose", 0), ("Reshape", 0)]
    for op_type, follow in steps:
        if node.op_type != op_type:
            return None
        if op_type == "Transpose" and list(attribute(node, "perm", [])) != _HEADS_PERM:
            return None
        if op_type == "MatMul" and graph.is_constant(node.input[1]):
            return None
        upstream = graph.producer.get(node.input[follow])
        if upstream is None or graph.sole_consumer(upstream.output[0]) is not node:
            return None
        node = upstream
    return node


def _divide_mul(graph: Graph, node: onnx.NodeProto, scales: np.ndarray) -> bool:
    """Fold into a Mul's constant factor, or into a Mul-by-constant one step upstream."""
    for index, name in enumerate(node.input):
        value = graph.array(name)
        if value is not None and (value.size == 1 or value.shape[-1:] == scales.shape):
            if value.size == 1 or np.all(np.asarray(value.shape[:-1]) == 1):
                graph.set(_private(graph, node, index), (value.reshape(-1) / scales).astype(np.float32))
                return True
    for name in node.input:
        inner = graph.producer.get(name)
        if inner is not None and inner.op_type == "Mul" and graph.sole_consumer(name) is node:
            if any(graph.array(i) is not None and graph.array(i).size == 1 for i in inner.input):
                return _divide_mul(graph, inner, scales)
    return False


def _insert_mul(graph: Graph, tensor: str, readers: list[onnx.NodeProto], scales: np.ndarray) -> str:
    """``Mul(X, 1/s)`` before the group's MatMuls (the only choice for post-LN residual inputs)."""
    inverse = graph.unique_name(f"{tensor}_smooth_inv")
    graph.set(inverse, (1.0 / scales).astype(np.float32))
    smoothed = graph.unique_name(f"{tensor}_smoothed")
    mul = helper.make_node(
        "Mul", [tensor, inverse], [smoothed], name=graph.unique_name(f"{tensor}_SmoothMul")
    )
    first = min(list(graph.graph.node).index(r) for r in readers)
    graph.graph.node.insert(first, mul)
    for reader in readers:
        reader.input[0] = smoothed
    graph.producer[smoothed] = mul
    return "inserted"


@dataclass(frozen=True)
class AlphaSearch:
    """The chosen alpha, its smoothed model, and the calibration output error of every alpha tried."""

    alpha: float
    result: SmoothResult
    errors: dict[float, float]


def output_error(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray]) -> float:
    """Relative squared error of the first output, ||q - f||^2 / ||f||^2 over every batch."""
    num = sum(float(np.sum((np.asarray(q, np.float64) - f) ** 2)) for f, q in zip(reference, candidate))
    den = sum(float(np.sum(np.asarray(f, np.float64) ** 2)) for f in reference)
    return num / max(den, 1e-30)


def search_alpha(
    model: onnx.ModelProto,
    dataloader: Iterable[Any],
    quantize: Callable[[onnx.ModelProto], onnx.ModelProto],
    alphas: Sequence[float] = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    *,
    insert_mul: bool = True,
    error: Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], float] = output_error,
) -> AlphaSearch:
    """The alpha whose smoothed-then-``quantize``-d model is closest to FP32 on the data.

    ``quantize`` is the caller's static INT8 (it calibrates the smoothed graph itself), so the
    search measures what deployment will run, not a per-layer proxy. ``error`` compares the
    first output per batch (FP32 list, INT8 list); pass one that ignores what the task ignores
    (padding positions of a mean-pooled encoder, say).
    """
    from lpot_onnxrt.passes.statistics import run_outputs

    maxima = activation_maxima(model, dataloader)
    reference = run_outputs(model, dataloader)
    errors: dict[float, float] = {}
    best: SmoothResult | None = None
    for alpha in alphas:
        result = smooth(model, maxima, alpha, insert_mul=insert_mul)
        errors[alpha] = error(reference, run_outputs(quantize(result.model), dataloader))
        if best is None or errors[alpha] < errors[best.alpha]:
            best = result
    if best is None:
        raise ConfigError("SmoothQuant alpha search needs at least one alpha")
    return AlphaSearch(best.alpha, best, errors)
