"""A Keras model as a :class:`~lpot_tensorflow.sources.GraphSource`: converted from the live model,
its ops are the quantizable layers, found in the TFLite graph by tagged layer names.

TFLite names tensors after TF name scopes, which Keras uniquifies, so during each conversion every
layer is renamed ``L<index>__<name>`` (see :mod:`lpot_tensorflow.layers`); an op then belongs to
the layer named by its weight tensor, else its output, else the layer whose weight it shares.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from lpot.errors import ModelError, QuantizationError
from lpot.recipe import OpKey
from lpot_tensorflow import tflite
from lpot_tensorflow.layers import QUANTIZABLE, LayerRef, quantizable_layers, tagged_names, tags, walk

# Keras layers that lower to softmax, normalisation or activation x activation matmuls in TFLite
ATTENTION_LAYERS = frozenset(
    {"MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention", "Softmax",
     "LayerNormalization", "RMSNormalization", "UnitNormalization"}
)  # fmt: skip


def _input_tensors(model: Any) -> list[Any]:
    try:
        return list(model.inputs or [])
    except AttributeError:  # a subclassed model has no symbolic inputs
        return []


def input_names(model: Any) -> list[str]:
    return [getattr(t, "name", f"input_{i}") for i, t in enumerate(_input_tensors(model))]


def input_dtypes(model: Any) -> list[np.dtype]:
    """Each input's dtype (int32 token ids stay ints); float32 where the model does not say."""
    return [np.dtype(getattr(t, "dtype", None) or "float32") for t in _input_tensors(model)]


def as_input_list(model: Any, inputs: Any) -> list[np.ndarray]:
    """A batch as the converter's representative dataset wants it: arrays in ``model.inputs`` order,
    in the inputs' own dtypes."""
    if isinstance(inputs, Mapping):
        arrays = [inputs[name] for name in input_names(model)]
    else:
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    dtypes = input_dtypes(model)
    return [np.asarray(a, dtype=dtypes[i] if i < len(dtypes) else np.float32) for i, a in enumerate(arrays)]


class KerasSource:
    """One Keras model; the layer table of its last conversion maps TFLite ops back to layers."""

    keras_layers = True

    def __init__(self, model: Any) -> None:
        self.model = model
        self.table: dict[int, LayerRef] | None = None

    @property
    def name(self) -> str:
        return f"{type(self.model).__name__} {getattr(self.model, 'name', '')!r}"

    @contextlib.contextmanager
    def converter(self) -> Iterator[Any]:
        import tensorflow as tf

        with tagged_names(self.model) as table:
            self.table = table
            yield tf.lite.TFLiteConverter.from_keras_model(self.model)

    def inputs(self) -> list[str]:
        return input_names(self.model)

    def feed(self, batch: Any) -> Any:
        """One array in a list; several by name, because the TFLite graph may order its inputs
        differently from ``model.inputs`` (a list then reaches the wrong input)."""
        arrays = as_input_list(self.model, batch)
        if len(arrays) == 1:
            return arrays
        return dict(zip(input_names(self.model), arrays))

    def zeros(self) -> Any:
        tensors = getattr(self.model, "inputs", None) if hasattr(type(self.model), "inputs") else None
        if not tensors:
            raise QuantizationError(
                f"{type(self.model).__name__}: no calibrated graph cached and no input shape known to "
                "rebuild it; calibrate first (a resumed run needs one batch seen, e.g. via q_dataloader)"
            )
        arrays = [
            np.zeros([1] + [d if d is not None else 1 for d in tuple(t.shape)[1:]], dtype=dtype)
            for t, dtype in zip(tensors, input_dtypes(self.model))
        ]
        return arrays[0] if len(arrays) == 1 else arrays

    def ops(self) -> list[OpKey]:
        return [OpKey(ref.path, ref.class_name) for ref in quantizable_layers(self.model)]

    def has_attention(self) -> bool:
        return any(ref.class_name in ATTENTION_LAYERS for ref, _ in walk(self.model))

    def locate(self, content: bytes) -> dict[str, tflite.LayerOps]:
        """The ops of a graph this model was converted to (now or by an earlier process: the tags in
        its tensor names are walk indices, the same for the same model)."""
        table = self.table if self.table is not None else {ref.index: ref for ref, _ in walk(self.model)}
        return layer_map(content, table)

    def conversion_error(self, exc: Exception) -> Exception:
        return conversion_error(self.model, exc)


def conversion_error(model: Any, exc: Exception) -> Exception:
    """A converter (or compiled predict) failure as an lpot error naming the model, ops and the fix."""
    name = f"{type(model).__name__} {getattr(model, 'name', '')!r}"
    unsupported = tflite.unsupported_ops(exc)
    if unsupported:
        return QuantizationError(
            f"TFLite cannot convert op(s) {', '.join(unsupported)} of {name}: the layers computing them "
            "cannot run in TFLite. Replace them with TFLite-supported layers, or tune with the Keras "
            "path instead: recipe option format=keras_int8 (quantization.model_wise / "
            "TensorFlowBackend(formats=('keras_int8',)))"
        )
    if type(model).__name__ in ("Functional", "Sequential"):  # traced from its layer graph: not tracing
        return ModelError(
            f"the TFLite converter failed on {name} ({type(exc).__name__}: {tflite.first_line(exc)}); "
            "check that tf.lite.TFLiteConverter.from_keras_model converts it, or tune the Keras "
            "families instead (TensorFlowBackend(formats=('keras_int8',)))"
        )
    return ModelError(
        f"cannot trace {name} into a TF graph (TFLite and compiled predict need one) "
        f"({type(exc).__name__}: {tflite.first_line(exc)}). A subclassed keras.Model must be traceable by "
        "tf.function (no Python control flow on tensor values, a known input shape: call it once "
        "or build() it); or pass a Functional/Sequential model"
    )


def layer_map(content: bytes, table: Mapping[int, LayerRef]) -> dict[str, tflite.LayerOps]:
    """Which ops of the TFLite graph compute each quantizable layer."""
    found: dict[str, tflite.LayerOps] = {}
    by_weight: dict[int, str] = {}
    pending = []
    for op in tflite.weighted_ops(content):
        layer = _owner([op.weight_name, op.output], table, op.kind)
        if layer is None:
            pending.append((op.weight, op.output))
            continue
        by_weight.setdefault(op.weight, layer.path)
        entry = found.setdefault(layer.path, tflite.LayerOps(layer.class_name))
        entry.outputs.append(op.output)
        entry.tail = entry.tail or _tail(op.output, table)
    for weight, out in pending:  # a shared layer's second call reuses the first call's weight tensor
        if weight in by_weight:
            found[by_weight[weight]].outputs.append(out)
    return found


def _owner(names: Iterable[str], table: Mapping[int, LayerRef], kind: str) -> LayerRef | None:
    for name in names:
        for index in reversed(tags(name)):  # innermost layer first
            ref = table.get(index)
            if ref is not None and kind in QUANTIZABLE.get(ref.class_name, ()):
                return ref
    return None


def _tail(output_name: str, table: Mapping[int, LayerRef]) -> str | None:
    """The last top-level layer fused into an op (highest creation index), for Keras-side probes."""
    refs = [table[i] for i in tags(output_name) if i in table and table[i].top_level]
    return max(refs, key=lambda r: r.index).path if refs else None
