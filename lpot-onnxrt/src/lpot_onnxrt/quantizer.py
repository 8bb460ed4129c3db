"""Apply a lpot Recipe with ORT's own quantizer classes and precomputed ranges.

``quantize_static`` recalibrates on every call; lpot instead builds ORT's ``QDQQuantizer`` /
``ONNXQuantizer`` directly with a ``TensorsData`` made from the ranges the core chose from the run's
cached statistics, so a trial costs a graph rewrite, not a calibration pass.
"""

from __future__ import annotations

import tempfile
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from lpot.errors import QuantizationError
from lpot.recipe import Recipe
from lpot_onnxrt.model_io import topological_sort
from lpot_onnxrt.units import unfuse_gemm, with_folded

QTYPES = {"int8": "QInt8", "uint8": "QUInt8"}


def settings(recipe: Recipe) -> dict[str, Any]:
    """ORT's model-wise arguments: the recipe's model-wise options (see :mod:`lpot_onnxrt.capability`)."""
    options = recipe.options
    return {
        "activation": options.get("activation.dtype", "uint8"),
        "activation_symmetric": options.get("activation.scheme", "asym") == "sym",
        "weight": options.get("weight.dtype", "int8"),
        "weight_symmetric": True,
        "per_channel": options.get("weight.granularity", "per_channel") == "per_channel",
        "reduce_range": bool(options.get("reduce_range", False)),
        "extra": _extra_options(options),
    }


def _extra_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """ORT extra options the recipe implies: ``matmul.output: float`` keeps MatMul outputs out
    of INT8 (ORT then fuses the integer GEMM and its dequantization into MatMulIntegerToFloat)."""
    if options.get("matmul.output", "int8") == "float":
        return {"OpTypesToExcludeOutputQuantization": ["MatMul"]}
    return {}


def _tensors_data(ranges: Mapping[str, tuple[float, float]]) -> Any:
    """ORT's TensorsData from lpot's flat per-tensor ranges."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

    data = {
        name: TensorData(lowest=np.float32(lo), highest=np.float32(hi)) for name, (lo, hi) in ranges.items()
    }
    return TensorsData(CalibrationMethod.MinMax, data)


def quantize_static(
    model: onnx.ModelProto, recipe: Recipe, ranges: Mapping[str, tuple[float, float]]
) -> onnx.ModelProto:
    from onnxruntime.quantization.quant_utils import save_and_reload_model_with_shape_infer

    include = [k.name for k in recipe.quantized_ops()]
    if not include:
        return model
    if not ranges:
        raise QuantizationError("static quantization needs calibration statistics; none were given")
    s = settings(recipe)
    include = with_folded(model, include)
    exclude = [n.name for n in model.graph.node if n.name not in include]
    fmt = recipe.options.get("format", "qdq")
    if fmt not in ("qdq", "qoperator"):
        raise QuantizationError(f"unknown ONNX quantization format {fmt!r}; expected 'qdq' or 'qoperator'")
    inferred = save_and_reload_model_with_shape_infer(model)
    try:
        return _run(_quantizer(fmt, inferred, s, _tensors_data(ranges), include, exclude))
    except Exception as exc:
        if "_adjust_weight_scale_for_int32_bias" not in traceback.format_exc():
            raise QuantizationError(
                f"ONNX Runtime could not quantize with {s} ({fmt}): {type(exc).__name__}: {exc}"
            ) from exc
    # ORT 1.32 fails in its int32-bias weight-scale adjustment on per-channel Gemm ("truth value of an
    # array is ambiguous"); quantizing without that adjustment is what quantize_static's users do.
    s = {**s, "extra": {**s["extra"], "QDQDisableWeightAdjustForInt32Bias": True}}
    try:
        inferred = save_and_reload_model_with_shape_infer(model)
        return _run(_quantizer(fmt, inferred, s, _tensors_data(ranges), include, exclude))
    except Exception as exc:
        raise QuantizationError(
            f"ONNX Runtime could not quantize with {s} ({fmt}): {type(exc).__name__}: {exc}"
        ) from exc


def _run(quantizer: Any) -> onnx.ModelProto:
    quantizer.quantize_model()
    return topological_sort(quantizer.model.model)  # ORT's QDQ quantizer appends the nodes it inserts


def _quantizer(
    fmt: str,
    model: onnx.ModelProto,
    s: Mapping[str, Any],
    tensors_data: Any,
    include: list[str],
    exclude: list[str],
) -> Any:
    """ORT's own QDQ or QOperator quantizer, given ranges instead of a calibration reader."""
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import QuantizationMode
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    act, weight = getattr(QuantType, QTYPES[s["activation"]]), getattr(QuantType, QTYPES[s["weight"]])
    extra = {
        "ActivationSymmetric": s["activation_symmetric"],
        "WeightSymmetric": s["weight_symmetric"],
        **s.get("extra", {}),
    }
    types = sorted(set(QDQRegistry) | set(QLinearOpsRegistry))
    common = (tensors_data, include, exclude, types, extra)
    if fmt == "qoperator":
        mode = QuantizationMode.QLinearOps
        return ONNXQuantizer(model, s["per_channel"], s["reduce_range"], mode, True, weight, act, *common)
    return QDQQuantizer(model, s["per_channel"], s["reduce_range"], weight, act, *common)


def quantize_dynamic(model: onnx.ModelProto, recipe: Recipe) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    include = [k.name for k in recipe.quantized_ops()]
    if not include:
        return model
    s = settings(recipe)
    model = unfuse_gemm(model, include)  # ORT's dynamic quantizer knows MatMul, not Gemm
    with tempfile.TemporaryDirectory(prefix="lpot-ort-dyn-") as tmp:
        out = Path(tmp) / "dynamic.onnx"
        try:
            ort_quantize_dynamic(
                model,
                str(out),
                per_channel=s["per_channel"],
                reduce_range=s["reduce_range"],
                weight_type=getattr(QuantType, QTYPES[s["weight"]]),
                nodes_to_quantize=include,
                nodes_to_exclude=[n.name for n in model.graph.node if n.name not in include],
            )
        except Exception as exc:
            raise QuantizationError(
                f"ONNX Runtime dynamic quantization failed: {type(exc).__name__}: {exc}"
            ) from exc
        return topological_sort(onnx.load_model(str(out)))
