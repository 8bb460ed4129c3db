"""ORT's quantization pre-processing (shape inference, graph optimization), done once per model.

Op names in capabilities and recipes refer to the pre-processed graph, so it is the backend's
native model for the whole run: baseline, calibration and every trial see the same graph.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import onnx

from lpot.errors import ModelError
from lpot_onnxrt.model_io import EXTERNAL_ABOVE, name_nodes, save_model, tensor_bytes

log = logging.getLogger("lpot.onnxrt")
PREPROCESSED_KEY = "lpot.preprocessed"


def is_preprocessed(model: onnx.ModelProto) -> bool:
    return any(p.key == PREPROCESSED_KEY for p in model.metadata_props)


QUANTIZED_OPS = {
    "QuantizeLinear",
    "DequantizeLinear",
    "DynamicQuantizeLinear",
    "QLinearConv",
    "QLinearMatMul",
    "QGemm",
    "ConvInteger",
    "MatMulInteger",
}


def is_quantized(model: onnx.ModelProto) -> bool:
    return any(node.op_type in QUANTIZED_OPS for node in model.graph.node)


def preprocess(model: onnx.ModelProto) -> onnx.ModelProto:
    """Named nodes, optimized and shape-inferred; symbolic shape inference is skipped if it fails."""
    if is_preprocessed(model) or is_quantized(model):
        return model  # a quantized graph must not be re-optimized: constant folding could undo it
    from onnxruntime.quantization import quant_pre_process

    named = name_nodes(model)
    big = tensor_bytes(named) > EXTERNAL_ABOVE  # past protobuf's limit: side-car files in the temp folder
    external = {"save_as_external_data": True, "all_tensors_to_one_file": True} if big else {}
    with tempfile.TemporaryDirectory(prefix="lpot-ort-") as tmp:
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        save_model(named, src)
        try:
            quant_pre_process(str(src), str(dst), **external)
        except Exception as exc:  # symbolic shape inference fails on some exported graphs
            log.info("symbolic shape inference failed (%s); pre-processing without it", exc)
            try:
                quant_pre_process(str(src), str(dst), skip_symbolic_shape=True, **external)
            except Exception as again:
                first = str(again).strip().splitlines()[0] if str(again).strip() else type(again).__name__
                raise ModelError(f"ONNX Runtime's pre-processing cannot read the model: {first}") from again
        result = onnx.load_model(str(dst))
    result = name_nodes(result)  # optimizations may add unnamed nodes
    entry = result.metadata_props.add()
    entry.key, entry.value = PREPROCESSED_KEY, "1"
    return result
