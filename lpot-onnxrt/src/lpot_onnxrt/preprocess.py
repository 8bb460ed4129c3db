"""ORT's quantization pre-processing (shape inference, graph optimization), done once per model.

Op names in capabilities and recipes refer to the pre-processed graph, so it is the backend's
native model for the whole run: baseline, calibration and every trial see the same graph.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterator
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


_CWD_LOCK = threading.Lock()


@contextlib.contextmanager
def scratch_cwd() -> Iterator[None]:
    """Run in a throw-away working directory, so that nothing is left in the user's."""
    with _CWD_LOCK, tempfile.TemporaryDirectory(prefix="lpot-ort-") as tmp:
        previous = os.getcwd()
        os.chdir(tmp)
        try:
            yield
        finally:
            os.chdir(previous)


def symbolic_shapes(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """ORT's symbolic shape inference (what quant_pre_process runs first), or None where it fails
    (exported transformers with ``Min(512, sequence)`` dims): then the graph is pre-processed once
    without it, instead of twice (a failed attempt, then the retry)."""
    from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

    try:
        with scratch_cwd():  # on failure ORT dumps the whole model into the working directory
            return SymbolicShapeInference.infer_shapes(model, 2**31 - 1, False, False, 0)
    except Exception as exc:
        log.info("symbolic shape inference failed (%s); pre-processing without it", exc)
        return None


def preprocess(model: onnx.ModelProto) -> onnx.ModelProto:
    """Named nodes, optimized and shape-inferred, in one pass of ORT's quantization pre-processing."""
    if is_preprocessed(model) or is_quantized(model):
        return model  # a quantized graph must not be re-optimized: constant folding could undo it
    from onnxruntime.quantization import quant_pre_process

    named = name_nodes(model)
    inferred = symbolic_shapes(named)
    big = tensor_bytes(named) > EXTERNAL_ABOVE  # past protobuf's limit: side-car files in the temp folder
    external = {"save_as_external_data": True, "all_tensors_to_one_file": True} if big else {}
    with tempfile.TemporaryDirectory(prefix="lpot-ort-") as tmp:
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        save_model(inferred if inferred is not None else named, src)
        try:
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=True, **external)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"ONNX Runtime's pre-processing cannot read the model: {first}") from exc
        result = onnx.load_model(str(dst))
    result = name_nodes(result)  # optimizations may add unnamed nodes
    entry = result.metadata_props.add()
    entry.key, entry.value = PREPROCESSED_KEY, "1"
    return result


FUSED_KEY = "lpot.transformer_fusions"


def fuse_for_dynamic(model: onnx.ModelProto) -> onnx.ModelProto:
    """ORT's transformer fusions on a BERT-class encoder (unchanged otherwise, or where ORT's
    optimizer fails: the fusions are a speed-up, never a reason to stop)."""
    from lpot.errors import QuantizationError
    from lpot_onnxrt.passes.transformer_fusion import detect_bert_shape, fuse_transformer

    if any(p.key == FUSED_KEY for p in model.metadata_props) or detect_bert_shape(model) is None:
        return model
    try:
        result = fuse_transformer(model)
    except QuantizationError as exc:
        log.warning("transformer fusions skipped: %s", exc)
        return model
    if not result.applied:
        log.info("transformer fusions skipped: %s", result.skipped)
        return model
    fused = name_nodes(result.model)
    entry = fused.metadata_props.add()
    entry.key, entry.value = FUSED_KEY, ",".join(f"{op}={n}" for op, n in sorted(result.fused.items()))
    log.info("ORT transformer fusions: %s", entry.value)
    return fused
