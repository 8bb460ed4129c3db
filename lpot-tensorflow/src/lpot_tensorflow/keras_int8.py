"""The second recipe family: Keras 3's own ``quantize("int8")`` (weights INT8, activations per batch).

Only Dense and EinsumDense layers have it; convolutions stay float. It keeps the model a Keras
model (trainable, savable as ``.keras``) and shrinks it, but its INT8 matmul is not faster than
FP32 on the CPUs measured, so the backend offers it for size objectives (see ``capability``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lpot.errors import ModelError
from lpot.recipe import Recipe
from lpot_tensorflow.layers import KERAS_INT8


def clone(model: Any) -> Any:
    """A deep copy of a Keras model (architecture + weights), leaving the user's model untouched."""
    import keras

    try:
        copy = keras.models.clone_model(model)
    except Exception as exc:
        try:  # subclassed models: rebuild from their config when they have one
            copy = type(model).from_config(model.get_config())
            copy.build(model.inputs[0].shape if getattr(model, "inputs", None) else None)
        except Exception:
            raise ModelError(
                f"cannot copy {type(model).__name__}: keras.models.clone_model failed ({exc}); give the "
                "subclassed model get_config/from_config, or pass a Functional/Sequential model"
            ) from exc
    copy.set_weights(model.get_weights())
    return copy


def int8_layer_names(recipe: Recipe) -> set[str]:
    return {k.name.rsplit("/", 1)[-1] for k in recipe.quantized_ops() if k.op_type in KERAS_INT8}


def quantize(model: Any, recipe: Recipe) -> Any:
    names = int8_layer_names(recipe)
    out = clone(model)
    if names:
        out.quantize("int8", filters=lambda layer: layer.name in names)
    return out


def int8_layers(model: Any) -> set[str]:
    """Layers (by path) Keras has quantized to int8."""
    from lpot_tensorflow.layers import walk

    return {ref.path for ref, layer in walk(model) if getattr(layer, "quantization_mode", None) == "int8"}


def has_int8_candidates(layers: Iterable[Any]) -> bool:
    return any(ref.class_name in KERAS_INT8 for ref in layers)
