"""Apply a lpot Recipe with ORT's own quantizer classes and precomputed ranges.

``quantize_static`` recalibrates on every call; lpot instead builds ORT's ``QDQQuantizer`` /
``ONNXQuantizer`` directly with a ``TensorsData`` made from the run's cached :class:`Stats`, so a
trial costs a graph rewrite, not a calibration pass.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from lpot.backend import Stats
from lpot.errors import QuantizationError
from lpot.recipe import OpConfig, OpKey, Recipe

QTYPES = {"int8": "QInt8", "uint8": "QUInt8"}


def _majority(values: list[Any], default: Any) -> Any:
    values = [v for v in values if v is not None]
    return Counter(values).most_common(1)[0][0] if values else default


def _settings(recipe: Recipe) -> dict[str, Any]:
    """Model-wise ORT arguments from the quantized ops' configs (ORT takes them per model)."""
    quantized: list[OpConfig] = [c for c in recipe.ops.values() if c.is_quantized]
    weights = [c.weight for c in quantized if c.weight is not None]
    return {
        "activation": _majority([c.activation.dtype for c in quantized], "uint8"),
        "activation_symmetric": _majority([c.activation.scheme for c in quantized], "asym") == "sym",
        "weight": _majority([w.dtype for w in weights], "int8"),
        "weight_symmetric": _majority([w.scheme for w in weights], "sym") == "sym",
        "per_channel": _majority([w.granularity for w in weights], "per_channel") == "per_channel",
    }


def _tensor_ranges(model: onnx.ModelProto, recipe: Recipe, stats: Mapping[str, Stats]) -> Any:
    """ORT TensorsData: each tensor's range from the algorithm of the op that reads or writes it."""
    from onnxruntime.quantization.calibrate import CalibrationMethod, TensorData, TensorsData

    default = next(iter(stats.values()))
    chosen: dict[str, Stats] = {}
    for node in model.graph.node:
        cfg = recipe.op(OpKey(node.name, node.op_type))
        if not cfg.is_quantized:
            continue
        source = stats.get(cfg.activation.algorithm or "minmax", default)
        for tensor in [*node.input, *node.output]:
            chosen.setdefault(tensor, source)
    data = {}
    for name, (low, high) in default.ranges.items():
        low, high = chosen.get(name, default).ranges.get(name, (low, high))
        data[name] = TensorData(lowest=np.float32(low), highest=np.float32(high))
    return TensorsData(CalibrationMethod.MinMax, data)


def quantize_static(model: onnx.ModelProto, recipe: Recipe, stats: Mapping[str, Stats]) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization.onnx_quantizer import ONNXQuantizer
    from onnxruntime.quantization.qdq_quantizer import QDQQuantizer
    from onnxruntime.quantization.quant_utils import QuantizationMode, save_and_reload_model_with_shape_infer
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    include = [k.name for k in recipe.quantized_ops()]
    if not include:
        return model
    if not stats:
        raise QuantizationError("static quantization needs calibration statistics; none were given")
    s = _settings(recipe)
    extra = {"ActivationSymmetric": s["activation_symmetric"], "WeightSymmetric": s["weight_symmetric"]}
    exclude = [n.name for n in model.graph.node if n.name not in include]
    ranges = _tensor_ranges(model, recipe, stats)
    inferred = save_and_reload_model_with_shape_infer(model)
    fmt = recipe.options.get("format", "qdq")
    act, weight = getattr(QuantType, QTYPES[s["activation"]]), getattr(QuantType, QTYPES[s["weight"]])
    reduce_range = bool(recipe.options.get("reduce_range", False))
    types = sorted(set(QDQRegistry) | set(QLinearOpsRegistry))
    try:
        if fmt == "qoperator":
            quantizer = ONNXQuantizer(
                inferred,
                s["per_channel"],
                reduce_range,
                QuantizationMode.QLinearOps,
                True,
                weight,
                act,
                ranges,
                include,
                exclude,
                types,
                extra,
            )
        elif fmt == "qdq":
            quantizer = QDQQuantizer(
                inferred, s["per_channel"], reduce_range, weight, act, ranges, include, exclude, types, extra
            )
        else:
            raise QuantizationError(
                f"unknown ONNX quantization format {fmt!r}; expected 'qdq' or 'qoperator'"
            )
        quantizer.quantize_model()
    except QuantizationError:
        raise
    except Exception as exc:
        raise QuantizationError(
            f"ONNX Runtime could not quantize with {s} ({fmt}): {type(exc).__name__}: {exc}"
        ) from exc
    return quantizer.model.model


def quantize_dynamic(model: onnx.ModelProto, recipe: Recipe) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

    include = [k.name for k in recipe.quantized_ops()]
    if not include:
        return model
    s = _settings(recipe)
    with tempfile.TemporaryDirectory(prefix="lpot-ort-dyn-") as tmp:
        out = Path(tmp) / "dynamic.onnx"
        try:
            ort_quantize_dynamic(
                model,
                str(out),
                per_channel=s["per_channel"],
                reduce_range=bool(recipe.options.get("reduce_range", False)),
                weight_type=getattr(QuantType, QTYPES[s["weight"]]),
                nodes_to_quantize=include,
                nodes_to_exclude=[n.name for n in model.graph.node if n.name not in include],
            )
        except Exception as exc:
            raise QuantizationError(
                f"ONNX Runtime dynamic quantization failed: {type(exc).__name__}: {exc}"
            ) from exc
        return onnx.load_model(str(out))
