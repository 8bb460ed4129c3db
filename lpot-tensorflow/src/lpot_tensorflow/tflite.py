"""TFLite conversion split in two, so lpot calibrates once and quantizes many times.

1. :func:`calibrated_float_model`: the converter's calibrate-only mode runs the representative data
   through the float TFLite graph and records min/max on every activation tensor (what the
   converter does inside every full-integer conversion, but kept apart).
2. :func:`quantize_model`: ``mlir_quantize`` turns a calibrated float model into INT8 without data,
   leaving the op outputs named in ``denylisted_nodes`` in float (per-layer fallback).

Between the two, the ranges travel as plain JSON (:func:`read_ranges` / :func:`write_ranges`), so a
resumed run rebuilds the exact same INT8 model from lpot's stored statistics.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lpot.errors import ModelError, QuantizationError
from lpot_tensorflow.layers import QUANTIZABLE, LayerRef, tagged_names, tags

METADATA_KEY = "lpot_layers"
WEIGHTED_OPS = frozenset(op for ops in QUANTIZABLE.values() for op in ops)
INT8_TYPES = (9,)  # TensorType.INT8


@functools.cache
def op_names() -> dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def input_names(model: Any) -> list[str]:
    try:
        tensors = list(model.inputs or [])
    except AttributeError:  # a subclassed model has no symbolic inputs
        tensors = []
    return [getattr(t, "name", f"input_{i}") for i, t in enumerate(tensors)]


def as_input_list(model: Any, inputs: Any) -> list[np.ndarray]:
    """A batch as the converter's representative dataset wants it: arrays in ``model.inputs`` order."""
    if isinstance(inputs, Mapping):
        return [np.asarray(inputs[name], dtype=np.float32) for name in input_names(model)]
    if isinstance(inputs, (list, tuple)):
        return [np.asarray(x, dtype=np.float32) for x in inputs]
    return [np.asarray(inputs, dtype=np.float32)]


def _converter(model: Any, data: Callable[[], Iterator[list[np.ndarray]]]) -> Any:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = data
    converter._experimental_calibrate_only = True  # the quantization debugger's own switch
    return converter


def calibrated_float_model(model: Any, batches: Sequence[Any]) -> tuple[bytes, dict[int, LayerRef]]:
    """The float TFLite graph with min/max recorded on every activation tensor, and the layer table.

    Layers are tagged while the converter traces the model (see :mod:`lpot_tensorflow.layers`).
    """
    if not batches:
        raise QuantizationError("TFLite full-integer conversion needs representative data: no batch given")

    def data() -> Iterator[list[np.ndarray]]:
        for batch in batches:
            yield as_input_list(model, batch)

    with tagged_names(model) as table, warnings.catch_warnings(), _quiet_tf():
        warnings.simplefilter("ignore")
        try:
            content = _converter(model, data).convert()
        except Exception as exc:
            raise conversion_error(model, exc) from exc
    return bytes(content), table


def conversion_error(model: Any, exc: Exception) -> Exception:
    """Turn a converter failure into an lpot error that names the model, ops and what to do."""
    text = str(exc)
    unsupported: list[str] = []
    if "ConverterError" in type(exc).__name__ or "not supported" in text:
        unsupported = sorted(set(re.findall(r"\btf\.([A-Z][A-Za-z0-9]+)", text)) - {"Tensor", "Variable"})
    if unsupported:
        return QuantizationError(
            f"TFLite cannot convert op(s) {', '.join(unsupported)} of {type(model).__name__} "
            f"{getattr(model, 'name', '')!r}: the layers computing them cannot run in TFLite. Replace "
            "them with TFLite-supported layers, or tune with the Keras path instead: recipe option "
            "format=keras_int8 (quantization.model_wise / TensorFlowBackend(formats=('keras_int8',)))"
        )
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    return ModelError(
        f"cannot trace {type(model).__name__} {getattr(model, 'name', '')!r} into a TF graph (TFLite and "
        "compiled predict need one) "
        f"({type(exc).__name__}: {first[:300]}). A subclassed keras.Model must be traceable by "
        "tf.function (no Python control flow on tensor values, a known input shape: call it once "
        "or build() it); or pass a Functional/Sequential model"
    )


class _quiet_tf:
    """Silence the converter's absl/C++ chatter (it prints the SavedModel signature each time)."""

    def __enter__(self) -> None:
        import contextlib
        import io

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _read(content: bytes) -> Any:
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.read_model_from_bytearray(bytearray(content))


def _write(model: Any) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _name(tensor: Any) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def read_ranges(content: bytes) -> dict[str, tuple[float, float]]:
    """Calibrated ``{tensor name: (min, max)}`` of a calibrated float model."""
    ranges: dict[str, tuple[float, float]] = {}
    for tensor in _read(content).subgraphs[0].tensors:
        q = tensor.quantization
        if q is not None and q.min is not None and q.max is not None and len(q.min) == 1:
            lo, hi = float(q.min[0]), float(q.max[0])
            if not (np.isfinite(lo) and np.isfinite(hi)):
                lo, hi = 0.0, 0.0
            ranges[_name(tensor)] = (min(lo, hi), max(lo, hi))
    return ranges


def write_ranges(content: bytes, ranges: Mapping[str, tuple[float, float]]) -> bytes:
    """``content`` with every calibrated tensor's min/max replaced by ``ranges`` (all must be there)."""
    model = _read(content)
    missing = []
    for tensor in model.subgraphs[0].tensors:
        q = tensor.quantization
        if q is None or q.min is None or q.max is None or len(q.min) != 1:
            continue
        name = _name(tensor)
        if name not in ranges:
            missing.append(name)
            continue
        lo, hi = ranges[name]
        q.min = np.array([lo], dtype=np.float32)
        q.max = np.array([hi], dtype=np.float32)
    if missing:
        raise QuantizationError(
            f"the calibration statistics do not match this model's TFLite graph: no range for "
            f"{len(missing)} tensor(s), e.g. {missing[:3]}; recalibrate (start a fresh run)"
        )
    return _write(model)


@dataclass
class LayerOps:
    """The TFLite ops (by output tensor name) that compute one Keras layer, and the last layer fused
    into them (a Conv2D's op also computes its BatchNormalization and ReLU)."""

    class_name: str
    outputs: list[str] = field(default_factory=list)
    tail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.class_name, "outputs": self.outputs, "tail": self.tail}


def layer_map(content: bytes, table: Mapping[int, LayerRef]) -> dict[str, LayerOps]:
    """Which ops of the TFLite graph compute each quantizable layer."""
    model = _read(content)
    graph = model.subgraphs[0]
    codes = [op_names().get(max(c.builtinCode, c.deprecatedBuiltinCode), "?") for c in model.operatorCodes]
    found: dict[str, LayerOps] = {}
    by_weight: dict[int, str] = {}
    pending = []
    for op in graph.operators:
        kind = codes[op.opcodeIndex]
        if kind not in WEIGHTED_OPS or len(op.inputs) < 2:
            continue
        out = _name(graph.tensors[op.outputs[0]])
        weight = op.inputs[1]
        names = [_name(graph.tensors[weight]), out]
        layer = _owner(names, table, kind)
        if layer is None:
            pending.append((weight, out))
            continue
        by_weight.setdefault(weight, layer.path)
        entry = found.setdefault(layer.path, LayerOps(layer.class_name))
        entry.outputs.append(out)
        entry.tail = entry.tail or _tail(out, table)
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


def quantize_model(content: bytes, *, deny: Sequence[str] = (), per_channel: bool = True) -> bytes:
    """INT8 model from a calibrated float model; ops whose outputs are in ``deny`` stay float."""
    from tensorflow.lite.python import convert

    with warnings.catch_warnings(), _quiet_tf():
        warnings.simplefilter("ignore")
        try:
            out = convert.mlir_quantize(
                content,
                disable_per_channel=not per_channel,
                fully_quantize=False,  # float model inputs and outputs: the Keras model's contract
                denylisted_nodes=list(deny) or None,
            )
        except Exception as exc:
            raise QuantizationError(f"TFLite INT8 quantization failed: {exc}") from exc
    return bytes(out)


def embed_metadata(content: bytes, data: Mapping[str, Any]) -> bytes:
    """``content`` with lpot's layer table stored in the flatbuffer's metadata (self-describing file)."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = _read(content)
    blob = json.dumps(data, sort_keys=True).encode()
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(blob, dtype=np.uint8)
    model.metadata = [m for m in (model.metadata or []) if _meta_name(m) != METADATA_KEY]
    model.buffers.append(buffer)
    meta = schema.MetadataT()
    meta.name = METADATA_KEY
    meta.buffer = len(model.buffers) - 1
    model.metadata.append(meta)
    return _write(model)


def _meta_name(meta: Any) -> str:
    return meta.name.decode() if isinstance(meta.name, bytes) else str(meta.name)


def read_metadata(content: bytes) -> dict[str, Any]:
    model = _read(content)
    for meta in model.metadata or []:
        if _meta_name(meta) == METADATA_KEY:
            return json.loads(bytes(np.asarray(model.buffers[meta.buffer].data, dtype=np.uint8)).decode())
    return {}


@dataclass(frozen=True)
class OpInfo:
    """One op of a TFLite graph, as the probes and int8 checks need it."""

    kind: str
    output: str
    input_type: int | None
    weight_type: int | None
    weight_bytes: int


def ops_of(content: bytes) -> list[OpInfo]:
    model = _read(content)
    graph = model.subgraphs[0]
    codes = [op_names().get(max(c.builtinCode, c.deprecatedBuiltinCode), "?") for c in model.operatorCodes]
    out = []
    for op in graph.operators:
        inputs = [i for i in op.inputs if i >= 0]
        first = graph.tensors[inputs[0]].type if inputs else None
        weight_type, nbytes = None, 0
        if len(inputs) > 1:
            w = graph.tensors[inputs[1]]
            data = model.buffers[w.buffer].data
            if data is not None and len(data):
                weight_type, nbytes = w.type, len(data)
        out.append(
            OpInfo(codes[op.opcodeIndex], _name(graph.tensors[op.outputs[0]]), first, weight_type, nbytes)
        )
    return out


def op_inputs(content: bytes) -> dict[str, str]:
    """``{op output tensor name: its first input tensor name}`` (the activation a layer reads)."""
    graph = _read(content).subgraphs[0]
    out = {}
    for op in graph.operators:
        if len(op.inputs) and op.inputs[0] >= 0 and len(op.outputs):
            out[_name(graph.tensors[op.outputs[0]])] = _name(graph.tensors[op.inputs[0]])
    return out
