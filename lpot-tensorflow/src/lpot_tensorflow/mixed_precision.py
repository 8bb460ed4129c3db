"""The BF16 recipe family (format ``keras_bf16``): the model stays in Keras, its ops in bfloat16.

TFLite has no BF16 kernels, so BF16 cannot share a graph with TFLite INT8 ops; it is a model-wise
family of its own, offered only where the CPU runs BF16 natively (AVX512-BF16 or AMX, where
TensorFlow's oneDNN kernels made a ResNet-18-shaped net 1.4x faster at batch 1 and 3.9x at batch
16 than FP32; elsewhere BF16 is emulated and slower, so the family is left out). Within it, the
recipe's op dtypes mean: an op the recipe would run in INT8 runs in BF16 (Keras' ``mixed_bfloat16``
policy: bfloat16 compute, float32 variables), an op that falls back stays FP32. Layers without
weights follow their input; the model's outputs are cast back to float32.
"""

from __future__ import annotations

from typing import Any

from lpot.isa import CpuFeatures, cpu_features
from lpot.recipe import Recipe

BF16_POLICY = "mixed_bfloat16"


def offered(cpu: CpuFeatures | None = None) -> bool:
    return (cpu or cpu_features()).fast_bf16


def bf16_layer_names(recipe: Recipe) -> set[str]:
    return {k.name.rsplit("/", 1)[-1] for k in recipe.quantized_ops()}


def to_bf16(model: Any, recipe: Recipe) -> Any:
    """A copy of ``model`` whose recipe-INT8 layers compute in bfloat16 (weights copied as float32)."""
    import keras

    names = bf16_layer_names(recipe)
    output_layers = {t._keras_history[0].name for t in getattr(model, "outputs", []) or []}

    def clone_layer(layer: Any) -> Any:
        config = layer.get_config()
        wanted = layer.name in names and layer.name not in output_layers
        config["dtype"] = BF16_POLICY if wanted else "float32"
        return type(layer).from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    copy.set_weights(model.get_weights())
    return copy


def bf16_layers(model: Any) -> set[str]:
    """Layers (by name) computing in bfloat16."""
    return {
        layer.name
        for layer in model._flatten_layers(include_self=False)
        if getattr(getattr(layer, "dtype_policy", None), "compute_dtype", None) == "bfloat16"
    }
