"""FP32 graph optimization as a product (the original tool's "Graph Optimization"), and BF16.

``optimize_graph`` bakes ORT's own session optimizations into a saved model (plus the transformer
fusions where they apply), so a deployment gets them without the session-time cost and a tool
downstream sees the graph that actually runs. ``ORT_ENABLE_ALL`` adds CPU-specific layouts
(NCHWc convolutions sized for this machine's vector width): such a model loads and runs correctly
anywhere ORT runs, but is only *tuned* for the ISA it was optimized on, so ``extended`` is the
portable choice and ``all`` the fastest here.

BF16: ONNX Runtime's CPU execution provider registers no BF16 compute kernels (MatMul, Gemm,
Conv, Add, Relu, Softmax all fail with NOT_IMPLEMENTED in ORT 1.32; only Cast and
LayerNormalization load). BF16 runs natively only through the oneDNN execution provider
(``DnnlExecutionProvider``, a source build of ORT, not the PyPI wheel) on CPUs with AVX512-BF16 or
AMX; elsewhere oneDNN emulates it, slower than FP32. ``convert_to_bf16`` therefore refuses unless
both hold. (ORT's Arm64 ``mlas.enable_gemm_fastmath_arm64_bfloat16`` keeps an FP32 graph and is a
session option, not a conversion.)
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

from lpot.errors import ConfigError
from lpot.isa import CpuFeatures, cpu_features
from lpot_onnxrt.passes._graph import Graph, copy_model
from lpot_onnxrt.passes._session_opt import LEVELS, bake
from lpot_onnxrt.passes.transformer_fusion import FusionResult, fuse_transformer

BF16_PROVIDER = "DnnlExecutionProvider"
# Ops whose BF16 kernels are worth the casts (oneDNN's AMP list); the rest stays FP32.
BF16_OPS = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose"})


@dataclass(frozen=True)
class OptimizedGraph:
    model: onnx.ModelProto
    level: str
    fusion: FusionResult | None


def optimize_graph(
    model: onnx.ModelProto, *, level: str = "all", transformer_fusion: bool = True
) -> OptimizedGraph:
    """The model as ORT's session optimizer at ``level`` rewrites it, saved back to a ModelProto.

    Transformer fusions run first (ORT's session optimizer does not find BERT attention itself).
    """
    if level not in LEVELS:
        raise ConfigError(f"graph optimization level {level!r}: expected one of {sorted(LEVELS)}")
    fusion = fuse_transformer(model) if transformer_fusion else None
    source = fusion.model if fusion is not None and fusion.applied else model
    return OptimizedGraph(model=bake(source, level), level=level, fusion=fusion)


def bf16_refusal(features: CpuFeatures | None = None, providers: Sequence[str] | None = None) -> str | None:
    """Why BF16 would not run natively here, or None when it would."""
    features = features or cpu_features()
    if providers is None:
        import onnxruntime as ort

        providers = ort.get_available_providers()
    if not features.fast_bf16:
        return (
            f"this CPU ({features.describe()}) has no native BF16 (AVX512-BF16 or AMX): "
            "BF16 would be emulated and slower than FP32"
        )
    if BF16_PROVIDER not in providers:
        return (
            f"ONNX Runtime's CPU execution provider has no BF16 kernels for MatMul/Gemm/Conv; BF16 runs "
            f"natively only with {BF16_PROVIDER} (ORT built with oneDNN), and this onnxruntime offers "
            f"{list(providers)}"
        )
    return None


def convert_to_bf16(
    model: onnx.ModelProto,
    *,
    keep_fp32: Collection[str] = (),
    features: CpuFeatures | None = None,
    providers: Sequence[str] | None = None,
) -> onnx.ModelProto:
    """Auto-mixed BF16: MatMul/Gemm/Conv nodes (minus ``keep_fp32`` names) compute in BF16.

    Refused with ``ConfigError`` where BF16 would be emulated or no provider runs it (see module
    doc); op-by-op fallback is the caller's loop, through ``keep_fp32``.
    """
    reason = bf16_refusal(features, providers)
    if reason is not None:
        raise ConfigError(f"BF16 graph conversion refused: {reason}")
    return cast_to_bf16(model, keep_fp32=keep_fp32)


def cast_to_bf16(model: onnx.ModelProto, *, keep_fp32: Collection[str] = ()) -> onnx.ModelProto:
    """The conversion itself, with no hardware check: BF16 weights, Casts around each chosen node.

    Activations enter through Cast(to=BF16) and leave through Cast(to=FLOAT), so every other op and
    the model's interface stay FP32. Shared weights are converted once.
    """
    out = copy_model(model)
    graph = Graph(out)
    converted: dict[str, str] = {}
    nodes: list[onnx.NodeProto] = []
    for node in list(out.graph.node):
        if node.op_type not in BF16_OPS or node.name in keep_fp32:
            nodes.append(node)
            continue
        for index, name in enumerate(node.input):
            if name and graph.array(name) is not None:
                node.input[index] = converted.get(name) or _bf16_initializer(graph, name, converted)
            elif name:
                node.input[index] = graph.unique_name(f"{name}_to_bf16")
                nodes.append(helper.make_node("Cast", [name], [node.input[index]], to=TensorProto.BFLOAT16))
                graph.producer[node.input[index]] = nodes[-1]
        nodes.append(node)
        for index, name in enumerate(node.output):
            node.output[index] = graph.unique_name(f"{name}_bf16")
            graph.producer[node.output[index]] = node
            nodes.append(helper.make_node("Cast", [node.output[index]], [name], to=TensorProto.FLOAT))
    del out.graph.node[:]
    out.graph.node.extend(nodes)
    return out


def _bf16_initializer(graph: Graph, name: str, converted: dict[str, str]) -> str:
    converted[name] = graph.unique_name(f"{name}_bf16")
    graph.graph.initializer.append(_bf16_tensor(np.asarray(graph.array(name), np.float32), converted[name]))
    return converted[name]


def _bf16_tensor(value: np.ndarray, name: str) -> onnx.TensorProto:
    """Round-to-nearest-even BF16 bits (numpy has no bfloat16) as the tensor's raw data."""
    bits = np.ascontiguousarray(value, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    tensor = onnx.TensorProto(name=name, data_type=TensorProto.BFLOAT16, dims=list(value.shape))
    tensor.raw_data = rounded.tobytes()
    return tensor
