"""Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization"), data-free.

For ``conv1 -> act -> conv2`` with a positively homogeneous ``act`` (ReLU, identity), dividing
conv1's output channel ``i`` by ``s_i`` and multiplying conv2's input channel ``i`` by ``s_i``
leaves the function unchanged; ``s_i = sqrt(r1_i / r2_i)`` (``r`` = each side's max |weight| of
that channel) makes both ranges ``sqrt(r1_i * r2_i)``. Depthwise convolutions, whose per-channel
weight ranges differ by orders of magnitude, gain most, and a depthwise conv2 scales its own
output channel ``i`` (there, input and output channel are the same).

``Clip(0, 6)`` (ReLU6) is not homogeneous: after scaling, channel ``i`` would need the bound
``6 / s_i``, and ONNX Clip takes scalars. ``clip`` chooses what to do about it:

- ``"relu"``: replace the bounded Clip by Relu, as Nagel et al. did for MobileNetV2 (FP32 output
  changes where a channel exceeded 6; measure it);
- ``"exact"``: keep exactness with ``Min(Relu(x), 6 / s)`` per channel (the Min sits between the
  conv and its quantization and may cost speed);
- ``"skip"``: leave chains through a bounded Clip alone.

BatchNormalization is expected folded already (``quant_pre_process`` and torch's export do it);
``fold_batchnorm`` folds any Conv -> BatchNormalization left so more chains qualify.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

from lpot.errors import ConfigError
from lpot_onnxrt.passes._graph import Graph, attribute, copy_model

CLIP_POLICIES = ("relu", "exact", "skip")


@dataclass(frozen=True)
class ConvPair:
    first: str  # Conv node names
    second: str
    activation: str | None  # node name of the Relu/Clip between them, if any
    bounded: bool  # the activation is a Clip with a finite upper bound


@dataclass(frozen=True)
class EqualizationResult:
    model: onnx.ModelProto
    pairs: tuple[ConvPair, ...] = ()
    clip_policy: str = "relu"
    range_ratio_before: float = 0.0  # median over paired depthwise convs of their channel-range spread
    range_ratio_after: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


def _conv_weight(graph: Graph, node: onnx.NodeProto) -> np.ndarray | None:
    """A Conv's own 4-D FP32 weight (None when shared: rescaling it would change another conv)."""
    if node.op_type != "Conv" or len(node.input) < 2 or len(graph.consumers[node.input[1]]) != 1:
        return None
    weight = graph.array(node.input[1])
    return weight if weight is not None and weight.ndim == 4 and weight.dtype == np.float32 else None


def clip_bounds(graph: Graph, node: onnx.NodeProto) -> tuple[float, float] | None:
    """(min, max) of a Clip with constant bounds (inputs since opset 11, attributes before)."""
    low, high = attribute(node, "min", None), attribute(node, "max", None)
    if len(node.input) > 1 and node.input[1]:
        value = graph.array(node.input[1])
        if value is None:
            return None
        low = float(value)
    if len(node.input) > 2 and node.input[2]:
        value = graph.array(node.input[2])
        if value is None:
            return None
        high = float(value)
    return (-np.inf if low is None else float(low), np.inf if high is None else float(high))


def find_pairs(model: onnx.ModelProto) -> list[ConvPair]:
    """Conv -> (Relu | Clip(>=0, ..) | nothing) -> Conv chains, each link the sole reader."""
    graph = Graph(model)
    pairs = []
    for node in model.graph.node:
        if not _equalizable(graph, node):
            continue
        nxt = graph.sole_consumer(node.output[0])
        activation, bounded = None, False
        if nxt is not None and nxt.op_type in ("Relu", "Clip"):
            if nxt.op_type == "Clip":
                bounds = clip_bounds(graph, nxt)
                if bounds is None or bounds[0] != 0.0:
                    continue
                bounded = np.isfinite(bounds[1])
            activation, nxt = nxt, graph.sole_consumer(nxt.output[0])
        if nxt is None or not _equalizable(graph, nxt):
            continue
        pairs.append(ConvPair(node.name, nxt.name, activation.name if activation else None, bounded))
    return pairs


def _equalizable(graph: Graph, node: onnx.NodeProto) -> bool:
    """A plain or depthwise Conv with its own weight (other grouped convs mix channels per group)."""
    if _conv_weight(graph, node) is None:
        return False
    return attribute(node, "group", 1) == 1 or _is_depthwise(graph, node)


def _is_depthwise(graph: Graph, node: onnx.NodeProto) -> bool:
    weight = _conv_weight(graph, node)
    return weight is not None and weight.shape[1] == 1 and attribute(node, "group", 1) == weight.shape[0]


def _input_channel_ranges(graph: Graph, node: onnx.NodeProto) -> np.ndarray:
    """Max |w| per *input* channel of conv2 (its output channel when depthwise)."""
    weight = np.abs(_conv_weight(graph, node))
    return weight.max(axis=(1, 2, 3)) if _is_depthwise(graph, node) else weight.max(axis=(0, 2, 3))


def equalize(model: onnx.ModelProto, *, clip: str = "relu", iterations: int = 2) -> EqualizationResult:
    """A copy with every found conv pair equalized ``iterations`` times (chains share convs, so a
    second sweep re-balances what the first one moved)."""
    if clip not in CLIP_POLICIES:
        raise ConfigError(f"equalization clip policy {clip!r}: expected one of {CLIP_POLICIES}")
    if iterations < 1:
        raise ConfigError(f"equalization iterations={iterations!r}: expected at least 1")
    out = fold_batchnorm(model)
    pairs = [p for p in find_pairs(out) if not (p.bounded and clip == "skip")]
    convs = {p.first for p in pairs} | {p.second for p in pairs}
    before = _range_ratio(out, convs)
    bounds: dict[str, np.ndarray] = {}
    for _ in range(iterations):
        graph = Graph(out)
        nodes = {n.name: n for n in out.graph.node}
        for pair in pairs:
            scales = _equalize_pair(graph, nodes[pair.first], nodes[pair.second])
            if pair.bounded and clip == "exact":
                bounds[pair.activation] = bounds.get(pair.activation, 1.0) / scales
    _rewrite_clips(out, pairs, clip, bounds)
    return EqualizationResult(out, tuple(pairs), clip, before, _range_ratio(out, convs))


def _equalize_pair(graph: Graph, first: onnx.NodeProto, second: onnx.NodeProto) -> np.ndarray:
    w1, w2 = _conv_weight(graph, first), _conv_weight(graph, second)
    r1 = np.abs(w1).max(axis=(1, 2, 3))
    r2 = _input_channel_ranges(graph, second)
    scales = np.where((r1 > 0) & (r2 > 0), np.sqrt(r1 / np.maximum(r2, 1e-12)), 1.0).astype(np.float32)
    graph.set(first.input[1], w1 / scales[:, None, None, None])
    if len(first.input) > 2 and first.input[2]:
        graph.set(first.input[2], graph.array(first.input[2]) / scales)
    if _is_depthwise(graph, second):
        graph.set(second.input[1], w2 * scales[:, None, None, None])
    else:
        graph.set(second.input[1], w2 * scales[None, :, None, None])
    return scales


def _rewrite_clips(
    model: onnx.ModelProto, pairs: list[ConvPair], clip: str, bounds: dict[str, np.ndarray]
) -> None:
    """Bounded Clips between equalized convs become Relu, plus a per-channel Min for ``exact``."""
    graph = Graph(model)
    nodes = {n.name: n for n in model.graph.node}
    for pair in pairs:
        if not pair.bounded:
            continue
        node = nodes[pair.activation]
        high = clip_bounds(graph, node)[1]
        node.op_type = "Relu"
        del node.input[1:]
        del node.attribute[:]
        if clip != "exact":
            continue
        limit = graph.unique_name(f"{pair.activation}_channel_max")
        graph.set(limit, (high * bounds[pair.activation]).astype(np.float32)[:, None, None])
        relu_out = graph.unique_name(f"{node.output[0]}_relu")
        minimum = helper.make_node("Min", [relu_out, limit], [node.output[0]], name=f"{pair.activation}_Min")
        node.output[0] = relu_out
        model.graph.node.insert(list(model.graph.node).index(node) + 1, minimum)


def _range_ratio(model: onnx.ModelProto, convs: set[str]) -> float:
    """Median over the equalized depthwise convs (the ones CLE is for) of the spread of their
    per-channel weight ranges (95th / 5th percentile: a dead channel must not decide it)."""
    graph = Graph(model)
    ratios = []
    for node in model.graph.node:
        weight = _conv_weight(graph, node) if node.name in convs and _is_depthwise(graph, node) else None
        if weight is None or weight.shape[0] < 2:
            continue
        ranges = np.abs(weight).max(axis=(1, 2, 3))
        low, high = np.percentile(ranges, [5, 95])
        if low > 0:
            ratios.append(float(high / low))
    return float(np.median(ratios)) if ratios else 0.0


def fold_batchnorm(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy with each Conv -> BatchNormalization (inference form, constant stats) folded."""
    out = copy_model(model)
    graph = Graph(out)
    drop = []
    for node in list(out.graph.node):
        bn = graph.sole_consumer(node.output[0]) if node.op_type == "Conv" else None
        if bn is None or bn.op_type != "BatchNormalization" or len(bn.output) != 1:
            continue
        params = [graph.array(name) for name in bn.input[1:5]]
        weight = _conv_weight(graph, node)
        if weight is None or any(p is None for p in params):
            continue
        gamma, beta, mean, var = (np.asarray(p, np.float32) for p in params)
        factor = gamma / np.sqrt(var + float(attribute(bn, "epsilon", 1e-5)))
        bias = graph.array(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros_like(mean)
        graph.set(node.input[1], weight * factor[:, None, None, None])
        bias_name = (
            node.input[2] if len(node.input) > 2 and node.input[2] else graph.unique_name(f"{node.name}_bias")
        )
        graph.set(bias_name, (bias - mean) * factor + beta)
        if len(node.input) < 3:
            node.input.append(bias_name)
        node.input[2] = bias_name
        node.output[0] = bn.output[0]
        drop.append(bn)
    for bn in drop:
        out.graph.node.remove(bn)
    return out
