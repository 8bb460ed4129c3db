"""What ONNX Runtime can quantize in a model, in lpot's seed capability format.

The op types come from ORT's own registries (QDQ / QOperator for static, IntegerOps for dynamic);
the dtype defaults come from the CPU: u8 activations with s8 weights run ORT's fast integer kernels
on AVX2 and VNNI alike (s8s8 QDQ was no faster than FP32 on AVX2), and without VNNI the u8s8
kernels may saturate, so there ``reduce_range`` is tried first.
"""

from __future__ import annotations

import onnx

from lpot.isa import CpuFeatures, cpu_features
from lpot.recipe import Capability, OpCapability, OpKey, TensorChoices

WEIGHTED = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
STATIC_APPROACH = "post_training_static_quant"
DYNAMIC_APPROACH = "post_training_dynamic_quant"


def static_op_types() -> set[str]:
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    return set(QDQRegistry) & set(QLinearOpsRegistry) | WEIGHTED & set(QDQRegistry)


def dynamic_op_types() -> set[str]:
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    return set(IntegerOpsRegistry) & {"Conv", "MatMul", "Gather", "LSTM", "Attention"}


def _has_weight(node: onnx.NodeProto, initializers: set[str]) -> bool:
    return node.op_type in WEIGHTED and len(node.input) > 1 and node.input[1] in initializers


def op_capabilities(cpu: CpuFeatures) -> tuple[OpCapability, OpCapability]:
    """(weighted op, activation-only op) choices for static quantization on this CPU."""
    activation = TensorChoices(
        dtype=("uint8", "int8", "fp32"),
        scheme=("asym", "sym"),
        algorithm=("minmax", "kl", "percentile"),
    )
    weight = TensorChoices(
        dtype=("int8", "fp32"), scheme=("sym", "asym"), granularity=("per_channel", "per_tensor")
    )
    return OpCapability(activation=activation, weight=weight), OpCapability(activation=activation)


def dynamic_capability() -> OpCapability:
    return OpCapability(
        activation=TensorChoices(dtype=("uint8", "fp32")),
        weight=TensorChoices(dtype=("int8", "uint8", "fp32"), granularity=("per_tensor", "per_channel")),
    )


def build_capability(model: onnx.ModelProto, cpu: CpuFeatures | None = None) -> Capability:
    cpu = cpu or cpu_features()
    weighted, plain = op_capabilities(cpu)
    initializers = {i.name for i in model.graph.initializer}
    static_types = static_op_types()
    opwise: dict[OpKey, OpCapability] = {}
    optypewise: dict[str, OpCapability] = {}
    for node in model.graph.node:
        if node.op_type not in static_types:
            continue
        cap = weighted if _has_weight(node, initializers) else plain
        opwise[OpKey(node.name, node.op_type)] = cap
        optypewise.setdefault(node.op_type, cap)
    return Capability(
        optypewise=optypewise,
        opwise=opwise,
        approaches=(STATIC_APPROACH,),
        options={
            "format": ("qdq", "qoperator"),
            "reduce_range": (False, True) if cpu.vnni else (True, False),
        },
    )


def build_dynamic_capability(model: onnx.ModelProto) -> Capability:
    """Dynamic quantization quantizes weights ahead of time and activations on the fly."""
    dynamic_types = dynamic_op_types()
    cap = dynamic_capability()
    opwise = {OpKey(n.name, n.op_type): cap for n in model.graph.node if n.op_type in dynamic_types}
    return Capability(
        optypewise={k.op_type: cap for k in opwise},
        opwise=opwise,
        approaches=(DYNAMIC_APPROACH,),
        options={"reduce_range": (False, True)},
    )
