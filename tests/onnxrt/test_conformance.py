"""ONNX Runtime plugged into the shared backend conformance suite."""

from __future__ import annotations

import onnx
import pytest
from onnx import numpy_helper

import lpot
from conformance.suite import BackendConformance, LowPrecisionProbe, TuningConformance
from lpot import plugins

INT8_NODES = {"QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger"}
COMPUTE = {"Conv", "Gemm", "MatMul"}


def int8_ops(model: onnx.ModelProto) -> set[str]:
    """Ops computing in INT8: QOperator nodes, or compute nodes fed by DequantizeLinear (QDQ, which
    ORT fuses into integer kernels) whose weight is stored as INT8."""
    producers = {out: n for n in model.graph.node for out in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    found = set()
    for node in model.graph.node:
        if node.op_type in INT8_NODES:
            found.add(node.name.removesuffix("_quant"))
        elif node.op_type in COMPUTE and len(node.input) > 1:
            act, weight = producers.get(node.input[0]), producers.get(node.input[1])
            if (
                act is not None
                and act.op_type == "DequantizeLinear"
                and weight is not None
                and weight.op_type == "DequantizeLinear"
                and inits.get(weight.input[0]) is not None
                and inits[weight.input[0]].data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
            ):
                found.add(node.name)
    return found


def weight_bytes(model: onnx.ModelProto) -> int:
    return sum(numpy_helper.to_array(i).nbytes for i in model.graph.initializer)


class TestOnnxRuntimeConformance(BackendConformance, TuningConformance):
    @pytest.fixture
    def backend(self):
        return plugins.backend_by_name("onnxrt")

    @pytest.fixture
    def model(self, backend, digits_data):
        return backend.load(digits_data[0])

    @pytest.fixture
    def calib_loader(self, digits_data):
        x, y = digits_data[1][0], digits_data[1][1]
        return lpot.ArrayLoader(x[:64], y[:64], batch_size=16)

    @pytest.fixture
    def eval_loader(self, digits_data):
        x, y = digits_data[1][2], digits_data[1][3]
        return lpot.ArrayLoader(x[:200], y[:200], batch_size=50)

    @pytest.fixture
    def probe(self):
        return LowPrecisionProbe(int8_ops=int8_ops, weight_bytes=weight_bytes)
