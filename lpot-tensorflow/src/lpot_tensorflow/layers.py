"""Which Keras layers are ops of a recipe, and how to find them again inside a TFLite graph.

Ops are the layers with weights that TFLite lowers to INT8 kernels (convolutions, Dense,
EinsumDense), named by their path (``conv1``, or ``block/dense`` inside a nested model).

TFLite names its tensors after TF name scopes, which Keras builds from layer names and then
uniquifies (``conv2d`` becomes ``conv2d_1``, and layer ``conv2d_1`` becomes ``conv2d_1_2``): the
layer of a tensor cannot be recovered from its name in general. :func:`tagged_names` therefore
renames every layer to ``L<index>__<name>`` for the duration of a conversion, so each TFLite
tensor name carries the index of the layer that produced it, whatever the uniquifier did.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# Keras class name -> the TFLite builtin ops it lowers to (several for separable convolutions).
QUANTIZABLE: dict[str, tuple[str, ...]] = {
    "Conv1D": ("CONV_2D",),
    "Conv2D": ("CONV_2D",),
    "Conv3D": ("CONV_3D",),
    "DepthwiseConv1D": ("DEPTHWISE_CONV_2D",),
    "DepthwiseConv2D": ("DEPTHWISE_CONV_2D",),
    "SeparableConv1D": ("DEPTHWISE_CONV_2D", "CONV_2D"),
    "SeparableConv2D": ("DEPTHWISE_CONV_2D", "CONV_2D"),
    "Conv1DTranspose": ("TRANSPOSE_CONV",),
    "Conv2DTranspose": ("TRANSPOSE_CONV",),
    "Dense": ("FULLY_CONNECTED", "BATCH_MATMUL"),
    "EinsumDense": ("FULLY_CONNECTED", "BATCH_MATMUL"),
}
# Layers Keras' own quantize("int8") handles (weights int8, activations quantized per batch).
KERAS_INT8 = ("Dense", "EinsumDense")

TAG = re.compile(r"(?:^|/)L(\d+)__")


@dataclass(frozen=True)
class LayerRef:
    """One layer of the model: its path (op name), Keras class, walk index, and whether it is a leaf."""

    path: str
    class_name: str
    index: int
    leaf: bool
    top_level: bool

    @property
    def quantizable(self) -> bool:
        return self.class_name in QUANTIZABLE


def sublayers(layer: Any) -> list[Any]:
    """Direct sublayers (nested models, layers inside MultiHeadAttention, ...)."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return []
    return list(flatten(include_self=False, recursive=False))


def walk(model: Any) -> list[tuple[LayerRef, Any]]:
    """Every layer under ``model`` in creation order, depth first, each once (shared layers too)."""
    out: list[tuple[LayerRef, Any]] = []
    seen: set[int] = set()

    def visit(layer: Any, prefix: str, top: bool) -> None:
        for child in sublayers(layer):
            if id(child) in seen:
                continue
            seen.add(id(child))
            path = prefix + child.name
            children = sublayers(child)
            ref = LayerRef(path, type(child).__name__, len(out), leaf=not children, top_level=top)
            out.append((ref, child))
            visit(child, path + "/", False)

    visit(model, "", True)
    return out


def quantizable_layers(model: Any) -> list[LayerRef]:
    """Recipe ops: layers with weights TFLite computes in INT8, in creation order."""
    return [ref for ref, layer in walk(model) if ref.quantizable and layer.weights]


@contextlib.contextmanager
def tagged_names(model: Any) -> Iterator[dict[int, LayerRef]]:
    """Rename every layer ``L<index>__<name>`` while the block runs; restore the names after.

    Yields the index -> layer table that turns a tagged TFLite tensor name back into a layer.
    """
    layers = walk(model)
    originals = [(layer, layer.name) for _, layer in layers]
    try:
        for ref, layer in layers:
            layer.name = f"L{ref.index}__{layer.name}"
        yield {ref.index: ref for ref, _ in layers}
    finally:
        for layer, name in originals:
            layer.name = name


def tags(tensor_name: str) -> list[int]:
    """Layer indices named in one TFLite tensor name (fused ops name several, ';'-separated)."""
    return [int(m.group(1)) for part in tensor_name.split(";") for m in TAG.finditer(part)]
