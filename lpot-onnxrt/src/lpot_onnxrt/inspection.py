"""Per-op output tensors of an FP32 or quantized model, for sensitivity ranking (MSE).

A quantized graph keeps the original node names for FP32 and QDQ-wrapped ops, while QOperator
nodes are renamed by ORT (``<name>_quant``) and emit quantized tensors. For each requested op we
read the float tensor a consumer would see: the op's own output, or the DequantizeLinear that
follows it, or, when ORT fused it into a QLinear op, that op's output dequantized here.
ORT folds a following Relu/Clip into the op's quantized output range, so an op directly followed
by one is read after it in every graph, FP32 included: like is compared with like.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import onnx
from onnx import helper

from lpot.recipe import OpKey
from lpot_onnxrt.sessions import feeds, make_session

# Activations ORT folds into the preceding op's quantized output range (QDQ and QOperator alike).
FOLDED_ACTIVATIONS = ("Relu", "Clip")
# Where the output scale and zero point sit among a QOperator node's inputs (ONNX / ORT contrib specs).
_Y_QPARAMS = {
    "QLinearConv": (6, 7),
    "QLinearMatMul": (6, 7),
    "QGemm": (7, 8),
    "QLinearAdd": (6, 7),
    "QLinearMul": (6, 7),
}


def _float_outputs(
    model: onnx.ModelProto, ops: Iterable[OpKey]
) -> dict[str, tuple[str, tuple[str, str] | None]]:
    """op name -> (tensor to read, (scale, zero point) to dequantize it with, or None)."""
    nodes = {n.name: n for n in model.graph.node}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for t in n.input:
            consumers.setdefault(t, []).append(n)
    out = {}
    for op in ops:
        node = nodes.get(op.name) or nodes.get(f"{op.name}_quant")
        if node is None:
            continue
        tensor = node.output[0]
        if node.op_type.startswith("QLinear") or node.op_type == "QGemm":
            i, j = _Y_QPARAMS.get(node.op_type, (len(node.input) - 2, len(node.input) - 1))
            out[op.name] = (tensor, (node.input[i], node.input[j]))
            continue
        nxt = consumers.get(tensor, [])
        q = next((c for c in nxt if c.op_type == "QuantizeLinear"), None)
        if q is not None:
            dq = next((c for c in consumers.get(q.output[0], []) if c.op_type == "DequantizeLinear"), None)
            if dq is not None:
                tensor = dq.output[0]
        after = consumers.get(tensor, [])
        if len(after) == 1 and after[0].op_type in FOLDED_ACTIVATIONS:
            tensor = after[0].output[0]  # compare after the activation INT8 kernels fold in
        out[op.name] = (tensor, None)
    return out


class Probe:
    """One session that also outputs the float tensors of ``ops`` (see the module docstring)."""

    def __init__(self, model: onnx.ModelProto, ops: Iterable[OpKey]) -> None:
        self.targets = _float_outputs(model, list(ops))
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        existing = {o.name for o in probe.graph.output}
        self.inits = {i.name: onnx.numpy_helper.to_array(i) for i in probe.graph.initializer}
        wanted: list[str] = []
        for tensor, qparams in self.targets.values():
            for name in (tensor, *(qparams or ())):
                if name not in existing and name not in wanted and name not in self.inits:
                    wanted.append(name)
        for name in wanted:
            probe.graph.output.append(helper.ValueInfoProto(name=name))
        self.session = make_session(probe)
        self.names = [o.name for o in self.session.get_outputs()]

    def run(self, inputs: Any) -> dict[str, np.ndarray]:
        """Each op's float output for one batch."""
        values = dict(zip(self.names, self.session.run(None, feeds(self.session, inputs))))
        values.update({k: v for k, v in self.inits.items() if k not in values})
        out = {}
        for op, (tensor, qparams) in self.targets.items():
            array = values[tensor]
            if qparams is not None:
                scale, zero = values[qparams[0]], values[qparams[1]]
                array = (array.astype(np.float32) - zero.astype(np.float32)) * scale
            out[op] = np.asarray(array, dtype=np.float32)
        return out


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int) -> np.ndarray:
    scale = np.asarray(scale, np.float32)
    zero = np.zeros_like(scale) if zero is None else np.asarray(zero, np.float32)
    if scale.size > 1:
        shape = [1] * q.ndim
        shape[axis] = scale.size
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return (q.astype(np.float32) - zero) * scale


def op_weights(model: onnx.ModelProto, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    """Each op's weight as it computes with it: FP32 initializer, or INT8 dequantized (QDQ, QOperator)."""
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    producers = {out: n for n in model.graph.node for out in n.output}
    nodes = {n.name: n for n in model.graph.node}
    out = {}
    for op in ops:
        node = nodes.get(op.name) or nodes.get(f"{op.name}_quant")
        if node is None:
            continue
        if node.op_type in ("QLinearConv", "QLinearMatMul") and node.input[3] in inits:
            axis = 0 if node.op_type == "QLinearConv" else 1
            out[op.name] = _dequantize(
                inits[node.input[3]], inits[node.input[4]], inits.get(node.input[5]), axis
            )
        elif len(node.input) > 1 and node.input[1] in inits:
            out[op.name] = inits[node.input[1]].astype(np.float32)
        elif (
            len(node.input) > 1
            and (dq := producers.get(node.input[1])) is not None
            and dq.op_type == "DequantizeLinear"
        ):
            axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
            zero = inits.get(dq.input[2]) if len(dq.input) > 2 else None
            out[op.name] = _dequantize(inits[dq.input[0]], inits[dq.input[1]], zero, axis)
    return out
