"""``lpot.optimize`` on ONNX Runtime: the FP32 graph ORT would run, saved as a model, and BF16 where
this machine can run it (see :mod:`lpot_onnxrt.passes.graph_optimization` for why ORT's CPU
provider cannot)."""

from __future__ import annotations

from typing import Any

import onnx

from lpot.engine import Optimized
from lpot.errors import FeatureNotAvailableError

# ORT_ENABLE_EXTENDED: every fusion that runs anywhere ORT runs; "all" adds NCHWc layouts sized
# for this CPU's vectors, which a session applies again at load time on the deploying machine.
LEVEL = "extended"


def optimize_model(
    model: onnx.ModelProto, precisions: tuple[str, ...], keep_fp32: frozenset[str]
) -> Optimized:
    """The transformer fusions and ORT's portable graph rewrites baked in; then BF16 Casts around
    MatMul/Gemm/Conv nodes outside ``keep_fp32`` when ``bf16`` is asked for and runs natively."""
    from lpot_onnxrt.passes.graph_optimization import BF16_OPS, convert_to_bf16, optimize_graph

    if "fp16" in precisions:
        raise FeatureNotAvailableError(
            "precisions: fp16: ONNX Runtime's CPU execution provider computes FP16 by converting to "
            "FP32 (slower than FP32); lpot.optimize offers fp32 and, on CPUs with native BF16, bf16"
        )
    graph = optimize_graph(model, level=LEVEL)
    details: dict[str, Any] = {"graph optimization": f"ONNX Runtime level {LEVEL}"}
    if graph.fusion is not None and graph.fusion.applied:
        details["transformer fusions"] = ", ".join(
            f"{op}={n}" for op, n in sorted(graph.fusion.fused.items()) if n
        )
    if "bf16" not in precisions:
        return Optimized(model=graph.model, details=details)
    converted = convert_to_bf16(graph.model, keep_fp32=keep_fp32)  # refuses where BF16 is emulated
    lowered = tuple(
        n.name for n in graph.model.graph.node if n.op_type in BF16_OPS and n.name not in keep_fp32
    )
    return Optimized(model=converted, low_precision_ops=lowered, details=details)
