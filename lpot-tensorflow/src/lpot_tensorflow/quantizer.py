"""A recipe applied to the FP32 model: TFLite INT8 from cached ranges, Keras int8, BF16 or QAT."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lpot.recipe import Recipe
from lpot_tensorflow import keras_int8, tflite
from lpot_tensorflow.calibration import Template
from lpot_tensorflow.capability import DYNAMIC, QAT
from lpot_tensorflow.runtime import TFLiteModel

log = logging.getLogger("lpot")


def quantize_tflite(
    recipe: Recipe, ranges: Mapping[str, tuple[float, float]], template: Template
) -> TFLiteModel:
    """Full-integer TFLite: the template's ranges set to ``ranges``, fallback layers denylisted."""
    deny: list[str] = []
    for key, cfg in recipe.ops.items():
        if cfg.is_quantized:
            continue
        entry = template.layers.get(key.name)
        if entry is None:
            log.warning("op %s has no TFLite op lpot could find; it cannot be kept float", key)
            continue
        deny.extend(entry.outputs)
    per_channel = recipe.options.get("weight.granularity", "per_channel") != "per_tensor"
    content = tflite.write_ranges(template.content, dict(ranges))
    deny_ops = tflite.ARITHMETIC_OPS if recipe.options.get("int8_ops", "all") == "weighted" else ()
    content = tflite.quantize_model(content, deny=deny, deny_ops=deny_ops, per_channel=per_channel)
    # The quantizer renames some outputs (the last op's output goes to the Dequantize it adds), so
    # the layer map of the result is recomputed on the result.
    final = template.source.locate(content)
    meta = {
        "layers": {path: entry.to_dict() for path, entry in final.items()},
        "inputs": template.inputs,
        "recipe": recipe.to_dict(),
    }
    return TFLiteModel(tflite.embed_metadata(content, meta))


def quantize(
    model: Any,
    recipe: Recipe,
    ranges: Mapping[str, tuple[float, float]],
    template: Callable[[], Template],
    *,
    q_func: Callable[[Any], Any] | None = None,
    calibration: Iterable[Any] | None = None,
) -> Any:
    if recipe.approach == QAT:
        from lpot_tensorflow.qat import quantize_aware

        return quantize_aware(model, recipe, q_func, calibration)
    if recipe.approach == DYNAMIC or recipe.options.get("format") == "keras_int8":
        return keras_int8.quantize(model, recipe)
    if recipe.options.get("format") == "keras_bf16":
        from lpot_tensorflow.mixed_precision import to_bf16

        return to_bf16(model, recipe)
    if not recipe.quantized_ops():  # every op float: the FP32 model is the answer
        return model
    return quantize_tflite(recipe, ranges, template())
