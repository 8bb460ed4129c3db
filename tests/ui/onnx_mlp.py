"""A small ONNX model built with onnx.helper, for the UI tests to tune."""

from __future__ import annotations

import numpy as np


def mlp(widths: tuple[int, ...], seed: int = 0):
    """An ONNX MLP (MatMul + Add + Relu per layer) built with onnx.helper, random weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, weights, previous, last = [], [], "x", len(widths) - 2
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        weights.append(
            numpy_helper.from_array((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32), f"w{i}")
        )
        weights.append(numpy_helper.from_array((rng.standard_normal(b) * 0.1).astype(np.float32), f"b{i}"))
        nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"mm{i}"], name=f"fc{i}"))
        out = "logits" if i == last else f"a{i}"
        nodes.append(helper.make_node("Add", [f"mm{i}", f"b{i}"], [out], name=f"add{i}"))
        if i < last:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"], name=f"relu{i}"))
            out = f"h{i}"
        previous = out
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", widths[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", widths[-1]])],
        weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
