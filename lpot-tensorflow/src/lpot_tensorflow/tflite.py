"""TFLite conversion split in two, so lpot calibrates once and quantizes many times.

1. :func:`convert` with batches: the converter's calibrate-only mode runs the representative data
   through the float TFLite graph and records min/max on every activation tensor (what the
   converter does inside every full-integer conversion, but kept apart). What is converted (a
   Keras model, a SavedModel signature) is a :class:`~lpot_tensorflow.sources.GraphSource`.
2. :func:`quantize_model`: ``mlir_quantize`` turns a calibrated float model into INT8 without data,
   leaving the op outputs named in ``denylisted_nodes`` in float (per-layer fallback).

Between the two, the ranges travel as plain JSON (:func:`read_ranges` / :func:`write_ranges`), so a
resumed run rebuilds the exact same INT8 model from lpot's stored statistics.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lpot.errors import QuantizationError
from lpot_tensorflow.layers import QUANTIZABLE

if TYPE_CHECKING:
    from lpot_tensorflow.sources import GraphSource

METADATA_KEY = "lpot_layers"
WEIGHTED_OPS = frozenset(op for ops in QUANTIZABLE.values() for op in ops)
INT8_TYPES = (9,)  # TensorType.INT8
# Ops with no weights that compute on activations. With ``int8_ops: weighted`` they stay float: TFLite
# runs their INT8 versions with reference kernels and requantization, while XNNPACK runs them fast in
# float; on a 4-layer transformer encoder (b16) INT8 attention matmuls, softmax and layer norm made
# the model 1.5x SLOWER than FP32, weighted-only was several times faster than FP32.
ARITHMETIC_OPS = (
    "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "RSQRT", "SQRT", "MEAN", "SUM", "SOFTMAX",
    "LOG_SOFTMAX", "BATCH_MATMUL", "MAX_POOL_2D", "AVERAGE_POOL_2D", "LOGISTIC", "TANH", "GELU",
    "HARD_SWISH", "EXP", "POW", "MAXIMUM", "MINIMUM", "L2_NORMALIZATION", "LEAKY_RELU", "PRELU",
)  # fmt: skip


@functools.cache
def op_names() -> dict[int, str]:
    from tensorflow.lite.python import schema_py_generated as schema

    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def convert(source: GraphSource, batches: Sequence[Any] | None = None) -> bytes:
    """The source's float TFLite graph; with ``batches``, calibrated: min/max on every activation.

    Calibrate-only is the converter's own switch (the quantization debugger uses it): the
    representative data runs through the float graph and the ranges are recorded, nothing else.
    """
    import tensorflow as tf

    if batches is not None and not batches:
        raise QuantizationError("TFLite full-integer conversion needs representative data: no batch given")

    def data() -> Iterator[Any]:
        for batch in batches or ():
            yield source.feed(batch)

    with warnings.catch_warnings(), _quiet_tf():
        warnings.simplefilter("ignore")
        try:
            with source.converter() as converter:
                if batches is not None:
                    converter.optimizations = [tf.lite.Optimize.DEFAULT]
                    converter.representative_dataset = data
                    converter._experimental_calibrate_only = True
                return bytes(converter.convert())
        except Exception as exc:
            raise source.conversion_error(exc) from exc


def unsupported_ops(exc: Exception) -> list[str]:
    """The ``tf.`` ops a converter error says TFLite cannot convert (empty for other failures)."""
    text = str(exc)
    if "ConverterError" not in type(exc).__name__ and "not supported" not in text:
        return []
    return sorted(set(re.findall(r"\btf\.([A-Z][A-Za-z0-9]+)", text)) - {"Tensor", "Variable"})


def first_line(exc: Exception) -> str:
    text = str(exc)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)[:300]


class _quiet_tf:
    """Silence the converter's absl/C++ chatter (it prints the SavedModel signature each time)."""

    def __enter__(self) -> None:
        import contextlib
        import io

        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(io.StringIO()))

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


QUANTIZER_CHATTER = re.compile(rb"^fully_quantize: \d+, inference_type: ")
_stderr_lock = threading.Lock()


@contextlib.contextmanager
def filtered_stderr(pattern: re.Pattern[bytes]) -> Iterator[None]:
    """Drop the lines matching ``pattern`` that C++ code writes to file descriptor 2 in the block.

    ``mlir_quantize`` prints its settings from C++ on every call, past Python's ``sys.stderr``
    and TensorFlow's log level: fd 2 goes to a temporary file for the call, and every other line
    written meanwhile (Python's too) is written back afterwards, in order. One block at a time,
    so threads cannot restore each other's redirect.
    """
    with _stderr_lock:
        _flush_stderr()
        try:
            saved: int | None = os.dup(2)
        except OSError:  # no fd 2 to redirect
            saved = None
        if saved is None:
            yield
            return
        with tempfile.TemporaryFile() as capture:
            os.dup2(capture.fileno(), 2)
            try:
                yield
            finally:
                _flush_stderr()
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                lines = capture.read().splitlines(keepends=True)
                kept = b"".join(line for line in lines if not pattern.match(line))
                if kept:
                    os.write(2, kept)


def _flush_stderr() -> None:
    """Python's buffered stderr lines out to fd 2 now, so they stay in order (None or closed: none)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        sys.stderr.flush()


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
    """The TFLite ops (by output tensor name) that compute one tuned op: a Keras layer (with the last
    layer fused into them: a Conv2D's op also computes its BatchNormalization and ReLU), or a
    SavedModel's TFLite op (its class is the TFLite op type, it has no tail)."""

    class_name: str
    outputs: list[str] = field(default_factory=list)
    tail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"class": self.class_name, "outputs": self.outputs, "tail": self.tail}


@dataclass(frozen=True)
class WeightedOp:
    """An op of a TFLite graph that multiplies by a weight tensor (a conv, FC or batch matmul)."""

    kind: str
    output: str
    weight: int  # tensor index
    weight_name: str
    constant: bool  # the weight is stored in the file (not an activation of a batch matmul)


def op_kinds(model: Any) -> list[str]:
    """Op type names (``CONV_2D``) of a parsed flatbuffer, by operator-code index."""
    return [op_names().get(max(c.builtinCode, c.deprecatedBuiltinCode), "?") for c in model.operatorCodes]


def weighted_ops(content: bytes) -> list[WeightedOp]:
    """The ops lpot can put in INT8 or keep float, in graph order."""
    model = _read(content)
    graph = model.subgraphs[0]
    codes = op_kinds(model)
    out = []
    for op in graph.operators:
        kind = codes[op.opcodeIndex]
        if kind not in WEIGHTED_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        weight = graph.tensors[op.inputs[1]]
        data = model.buffers[weight.buffer].data
        out.append(
            WeightedOp(
                kind,
                _name(graph.tensors[op.outputs[0]]),
                op.inputs[1],
                _name(weight),
                data is not None and len(data) > 0,
            )
        )
    return out


def quantize_model(
    content: bytes, *, deny: Sequence[str] = (), deny_ops: Sequence[str] = (), per_channel: bool = True
) -> bytes:
    """INT8 model from a calibrated float model; ops whose outputs are in ``deny``, and ops of the
    types in ``deny_ops``, stay float."""
    from tensorflow.lite.python import convert as tf_convert

    with warnings.catch_warnings(), _quiet_tf(), filtered_stderr(QUANTIZER_CHATTER):
        warnings.simplefilter("ignore")
        try:
            out = tf_convert.mlir_quantize(
                content,
                disable_per_channel=not per_channel,
                fully_quantize=False,  # float model inputs and outputs: the source model's contract
                denylisted_nodes=list(deny) or None,
                denylisted_ops=list(deny_ops) or None,
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
    codes = op_kinds(model)
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
