"""A recipe applied to the FP32 model: TFLite INT8 from cached ranges, Keras int8, BF16 or QAT."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lpot.backend import Stats
from lpot.errors import QuantizationError
from lpot.recipe import Recipe
from lpot_tensorflow import keras_int8, tflite
from lpot_tensorflow.calibration import Template
from lpot_tensorflow.capability import DYNAMIC, QAT
from lpot_tensorflow.runtime import TFLiteModel

log = logging.getLogger("lpot")


def tensor_ranges(
    recipe: Recipe, stats: Mapping[str, Stats], layers: Mapping[str, tflite.LayerOps]
) -> dict[str, tuple[float, float]]:
    """One range per calibrated tensor: the algorithm most of the INT8 ops use ranges them all, and
    an INT8 op that asks for another has its own output tensors ranged by that one (as the
    PyTorch backend does)."""
    quantized = recipe.quantized_ops()
    algorithms = [recipe.op(k).activation.algorithm or "minmax" for k in quantized]
    missing = sorted(set(algorithms) - set(stats))
    if missing:
        raise QuantizationError(
            f"no calibration statistics for algorithm(s) {missing} (given: {sorted(stats)})"
        )
    main = Counter(algorithms).most_common(1)[0][0]
    ranges = dict(stats[main].ranges)
    for key, algorithm in zip(quantized, algorithms):
        entry = layers.get(key.name)
        if algorithm != main and entry is not None:
            own = stats[algorithm].ranges
            ranges.update({out: own[out] for out in entry.outputs if out in own})
    return ranges


def quantize_tflite(recipe: Recipe, stats: Mapping[str, Stats], template: Template) -> TFLiteModel:
    """Full-integer TFLite: the template's ranges set from ``stats``, fallback layers denylisted."""
    quantized = recipe.quantized_ops()
    deny: list[str] = []
    for key, cfg in recipe.ops.items():
        if cfg.is_quantized:
            continue
        entry = template.layers.get(key.name)
        if entry is None:
            log.warning("op %s has no TFLite op lpot could find; it cannot be kept float", key)
            continue
        deny.extend(entry.outputs)
    weights = next((recipe.op(k).weight for k in quantized if recipe.op(k).weight is not None), None)
    per_channel = weights is None or weights.granularity != "per_tensor"
    content = tflite.write_ranges(template.content, tensor_ranges(recipe, stats, template.layers))
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
    stats: Mapping[str, Stats],
    template: Callable[[], Template],
    *,
    q_func: Callable[[Any], Any] | None = None,
    dataloader: Iterable[Any] | None = None,
) -> Any:
    if recipe.approach == QAT:
        from lpot_tensorflow.qat import quantize_aware

        return quantize_aware(model, recipe, q_func, dataloader)
    if recipe.approach == DYNAMIC or recipe.options.get("format") == "keras_int8":
        return keras_int8.quantize(model, recipe)
    if recipe.options.get("format") == "keras_bf16":
        from lpot_tensorflow.mixed_precision import to_bf16

        return to_bf16(model, recipe)
    if not recipe.quantized_ops():  # every op float: the FP32 model is the answer
        return model
    return quantize_tflite(recipe, stats, template())
