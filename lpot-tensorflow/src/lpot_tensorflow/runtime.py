"""``TFLiteModel``: a TFLite flatbuffer that behaves like the model it came from.

What lpot hands to ``eval_func`` for a TFLite recipe. The contract (the Keras one, numpy out):

- ``model(x)`` and ``model.predict(x, batch_size=None)`` take what the source model takes: one
  array (or tensor), a list in input order (``model.inputs`` of a Keras model, the sorted input
  names of a SavedModel signature), or a dict keyed by input name; any batch size.
- They return numpy arrays: one array for a single-output model, else a list in output order
  (Keras output order; a signature's output names ordered by their numeric suffix, then by name).
- ``model.content`` is the ``.tflite`` flatbuffer; ``model.layers`` maps each tuned op (a Keras
  layer, or a TFLite op of a SavedModel) to its TFLite ops; ``model.int8_layers()`` names those
  that run INT8 kernels.

The runtime is ``ai_edge_litert`` (LiteRT); ``tf.lite.Interpreter`` (deprecated) only if it is
missing. One interpreter per input shape is kept, since resizing re-plans the whole graph.
"""

from __future__ import annotations

import abc
import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lpot_tensorflow import tflite


def interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - ai-edge-litert is a dependency
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class KerasLike(abc.ABC):
    """``predict`` in batches on top of a subclass's ``feeds`` and ``__call__`` (Keras' contract)."""

    @abc.abstractmethod
    def feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        """One batch (array, list or dict) as ``{input name: array}``."""

    @abc.abstractmethod
    def __call__(self, inputs: Any, training: bool = False) -> Any:
        """One batch through the model, numpy out."""

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = 0, **_: Any) -> Any:
        """Keras' ``predict``: batches of ``batch_size`` (default 32), outputs concatenated."""
        feeds = self.feeds(x)
        n = len(next(iter(feeds.values())))
        size = batch_size or 32
        parts = [self({k: v[i : i + size] for k, v in feeds.items()}) for i in range(0, n, size)]
        if not parts:
            raise ValueError("predict() got an empty input")
        if isinstance(parts[0], list):
            return [np.concatenate([p[j] for p in parts]) for j in range(len(parts[0]))]
        return np.concatenate(parts)


def named_feeds(inputs: Any, order: Sequence[str], dtypes: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """One batch as ``{input name: array}``: from a dict by name, a list in ``order``, or one array
    (dtype from ``dtypes``, float32 for the names it lacks)."""
    if isinstance(inputs, Mapping):
        missing = [n for n in order if n not in inputs]
        if missing:
            raise ValueError(f"the model's inputs are {list(order)}; the batch has no {missing}")
        return {n: np.asarray(inputs[n], dtype=dtypes.get(n, np.float32)) for n in order}
    arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if len(arrays) != len(order):
        raise ValueError(f"the model takes {len(order)} input(s) ({list(order)}), got {len(arrays)}")
    return {n: np.asarray(a, dtype=dtypes.get(n, np.float32)) for n, a in zip(order, arrays)}


def ordered_outputs(outputs: Mapping[str, Any]) -> Any:
    """Named outputs as numpy: one array for one output, else a list by numeric suffix, then name."""
    values = [np.array(outputs[k]) for k in sorted(outputs, key=_output_index)]
    return values[0] if len(values) == 1 else values


class TFLiteModel(KerasLike):
    """A callable TFLite model with the source model's input/output contract (module docstring)."""

    def __init__(self, content: bytes, *, num_threads: int | None = None) -> None:
        self.content = bytes(content)
        meta = tflite.read_metadata(self.content)
        self.layers: dict[str, dict[str, Any]] = meta.get("layers", {})
        self.input_order: list[str] = meta.get("inputs", [])
        self.recipe: dict[str, Any] | None = meta.get("recipe")
        self.num_threads = num_threads or default_threads()
        self._runners: dict[tuple[tuple[int, ...], ...], Any] = {}
        self._signature: Any = None
        self._dtypes: dict[str, Any] = {}

    # running ------------------------------------------------------------------------------
    def _runner(self, feeds: Mapping[str, np.ndarray]) -> Any:
        key = tuple(tuple(v.shape) for _, v in sorted(feeds.items()))
        runner = self._runners.get(key)
        if runner is None:
            if len(self._runners) >= 4:
                self._runners.clear()
            interpreter = interpreter_class()(model_content=self.content, num_threads=self.num_threads)
            runner = interpreter.get_signature_runner()
            self._runners[key] = runner
        return runner

    def signature_inputs(self) -> list[str]:
        if self._signature is None:
            interpreter = interpreter_class()(model_content=self.content)
            self._signature = interpreter.get_signature_list()
            details = interpreter.get_signature_runner().get_input_details()
            self._dtypes = {name: d["dtype"] for name, d in details.items()}
        sig = next(iter(self._signature.values()))
        return list(sig["inputs"])

    def feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        """Inputs cast to the graph's own input types (float images, int32 token ids)."""
        names = self.signature_inputs()
        order = self.input_order if set(self.input_order) == set(names) else names
        return named_feeds(inputs, order, self._dtypes)

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        feeds = self.feeds(inputs)
        return ordered_outputs(self._runner(feeds)(**feeds))

    # what it is ----------------------------------------------------------------------------
    def ops(self) -> list[tflite.OpInfo]:
        return tflite.ops_of(self.content)

    def int8_layers(self) -> set[str]:
        """Tuned ops (Keras layers, SavedModel ops) whose every TFLite op reads INT8 data and weights."""
        by_output = {op.output: op for op in self.ops()}
        found = set()
        for path, entry in self.layers.items():
            ops = [by_output.get(o) for o in entry["outputs"]]
            if ops and all(
                op is not None and op.input_type in tflite.INT8_TYPES and op.weight_type in tflite.INT8_TYPES
                for op in ops
            ):
                found.add(path)
        return found

    def fingerprint(self) -> str:
        return hashlib.sha256(self.content).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"TFLiteModel({len(self.content)} bytes, {len(self.int8_layers())} INT8 layers)"


def _output_index(name: str) -> tuple[int, str]:
    tail = name.rsplit("_", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (1 << 30, name)
