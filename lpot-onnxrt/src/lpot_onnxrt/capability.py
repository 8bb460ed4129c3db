"""What ONNX Runtime can quantize in a model, and which knobs it takes per op or per model.

The op types come from ORT's own registries (QDQ / QOperator for static, IntegerOps for dynamic).
ORT's quantizers take activation and weight types, schemes and granularity for the whole model, so
those are model-wise options here (``activation.dtype`` ...); per op, lpot applies only what it really
can: INT8 or FP32. The calibration algorithm is model-wise too: measured per op, most ops' choice
built the very same graph (ORT ranges a Conv's output by the Relu after it, a pooling op shares its
input's scale), so a per-op algorithm would spend trials on identical models. Weight scheme is
fixed to symmetric: asymmetric INT8 weights built the same model as symmetric ones (ORT 1.32). Defaults come from the
CPU: u8 activations with s8 weights run ORT's fast integer kernels on AVX2 and VNNI alike (s8s8 QDQ
was no faster than FP32 on AVX2), and without VNNI the u8s8 kernels may saturate, so there
``reduce_range`` is tried first.
"""

from __future__ import annotations

import onnx

from lpot.isa import CpuFeatures, cpu_features
from lpot.recipe import Approach, Capability, OpCapability, OpKey, TensorChoices
from lpot_onnxrt.graph_options import CALIBRATED, static_graph_options
from lpot_onnxrt.units import folded_activations

WEIGHTED = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
ALGORITHMS = ("minmax", "kl", "percentile")


def static_op_types() -> set[str]:
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return set(QDQRegistry) & set(QLinearOpsRegistry) | WEIGHTED & set(QDQRegistry)


def dynamic_op_types() -> set[str]:
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    return set(IntegerOpsRegistry) & {"Conv", "MatMul", "Gather", "LSTM", "Attention"}


def _has_weight(node: onnx.NodeProto, initializers: set[str]) -> bool:
    return node.op_type in WEIGHTED and len(node.input) > 1 and node.input[1] in initializers


def static_choices() -> tuple[OpCapability, OpCapability]:
    """(weighted op, activation-only op): INT8 or FP32."""
    activation = TensorChoices(dtype=("int8", "fp32"))
    return OpCapability(activation=activation, weight=TensorChoices(dtype=("int8",))), OpCapability(
        activation=activation
    )


def static_options(cpu: CpuFeatures) -> dict[str, tuple[object, ...]]:
    return {
        "activation.algorithm": ALGORITHMS,
        "format": ("qdq", "qoperator"),
        "activation.dtype": ("uint8", "int8"),
        "activation.scheme": ("asym", "sym"),
        "weight.granularity": ("per_channel", "per_tensor"),
        "reduce_range": (False, True) if cpu.vnni else (True, False),
    }


def build_capability(model: onnx.ModelProto, cpu: CpuFeatures | None = None) -> Capability:
    cpu = cpu or cpu_features()
    weighted, plain = static_choices()
    initializers = {i.name for i in model.graph.initializer}
    graph_inputs = {i.name for i in model.graph.input}
    static_types = static_op_types()
    opwise: dict[OpKey, OpCapability] = {}
    tensors: dict[str, tuple[str, ...]] = {}
    folded = folded_activations(model)  # they leave INT8 with their producer (lpot_onnxrt.units)
    for node in model.graph.node:
        if node.op_type not in static_types or node.name in folded:
            continue
        opwise[OpKey(node.name, node.op_type)] = weighted if _has_weight(node, initializers) else plain
        own_inputs = tuple(t for t in node.input if t in graph_inputs)  # nobody else ranges these
        tensors[node.name] = (*own_inputs, *node.output)
    options = {**static_options(cpu), **static_graph_options(model)}
    return Capability(
        opwise=opwise,
        approaches=(Approach.STATIC,),
        options=options,
        tensors=tensors,
        calibrated_options=CALIBRATED & set(options),
    )


def build_dynamic_capability(model: onnx.ModelProto) -> Capability:
    """Dynamic quantization quantizes weights ahead of time and activations on the fly. A Gemm with
    a constant weight (what ORT's optimizer makes of MatMul + Add) is quantized as the MatMul it was
    (:func:`lpot_onnxrt.units.unfuse_gemm`)."""
    dynamic_types = dynamic_op_types()
    cap = OpCapability(
        activation=TensorChoices(dtype=("int8", "fp32")), weight=TensorChoices(dtype=("int8",))
    )
    initializers = {i.name for i in model.graph.initializer}
    opwise = {
        OpKey(n.name, n.op_type): cap
        for n in model.graph.node
        if n.op_type in dynamic_types or (n.op_type == "Gemm" and _has_weight(n, initializers))
    }
    return Capability(
        opwise=opwise,
        approaches=(Approach.DYNAMIC,),
        options={
            "weight.dtype": ("int8", "uint8"),
            "weight.granularity": ("per_channel", "per_tensor"),
            "reduce_range": (False, True),
        },
    )
