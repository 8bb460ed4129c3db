"""The units ops leave INT8 in, as ONNX Runtime fuses them, and graph rewrites the quantizers need.

ORT's QDQ and QOperator paths fold a Relu or Clip that directly follows a Conv / Gemm / MatMul
into the op's quantized output range. Falling back such an activation alone breaks that fusion:
measured on EfficientNet-Lite0, excluding the stem's ReLU6 (a Clip) dropped top-1 agreement with
FP32 from 0.81 to 0.56 (ORT by hand: 0.66 to 0.47), so a search that falls back ops one at a time
walks the wrong way. Here such an activation is not an op of its own: it leaves INT8 with its
producer, and stays INT8 with it.

ORT's dynamic quantization has no Gemm (its IntegerOps registry quantizes MatMul), while ORT's
graph optimizer fuses MatMul + Add into Gemm: :func:`unfuse_gemm` turns a Gemm with a constant
weight back into MatMul + Add before dynamic quantization, so those layers are quantized.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

PRODUCERS = {"Conv", "Gemm", "MatMul", "ConvTranspose"}
FOLDED = {"Relu", "Clip"}


def folded_activations(model: onnx.ModelProto) -> dict[str, str]:
    """``{activation node: its producer}`` for each Relu/Clip ORT folds into the op before it."""
    producer_of = {out: node for node in model.graph.node for out in node.output}
    consumers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    out = {}
    for node in model.graph.node:
        if node.op_type not in FOLDED or not node.input:
            continue
        producer = producer_of.get(node.input[0])
        if producer is not None and producer.op_type in PRODUCERS and consumers.get(node.input[0]) == 1:
            out[node.name] = producer.name
    return out


def with_folded(model: onnx.ModelProto, include: Iterable[str]) -> list[str]:
    """``include`` plus the activations folded into an included producer (they leave INT8 with it)."""
    chosen = list(include)
    wanted = set(chosen)
    chosen += [
        act for act, producer in folded_activations(model).items() if producer in wanted and act not in wanted
    ]
    return chosen


def unfuse_gemm(model: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """A copy where each named Gemm (constant B, alpha = beta = 1) is a MatMul (same name) + Add."""
    wanted = set(names)
    inits = {i.name: i for i in model.graph.initializer}
    work = onnx.ModelProto()
    work.CopyFrom(model)
    nodes = []
    for node in work.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        plain = (
            attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0 and not attrs.get("transA", 0)
        )
        if node.op_type != "Gemm" or node.name not in wanted or node.input[1] not in inits or not plain:
            nodes.append(node)
            continue
        weight = node.input[1]
        if attrs.get("transB", 0):
            transposed = numpy_helper.to_array(inits[weight]).T.copy()
            weight = f"{weight}_transposed_for_matmul"
            work.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(transposed), weight))
        has_bias = len(node.input) > 2 and node.input[2]
        product = f"{node.output[0]}_matmul" if has_bias else node.output[0]
        nodes.append(helper.make_node("MatMul", [node.input[0], weight], [product], name=node.name))
        if has_bias:
            nodes.append(
                helper.make_node("Add", [product, node.input[2]], [node.output[0]], name=f"{node.name}_bias")
            )
    del work.graph.node[:]
    work.graph.node.extend(nodes)
    return work
