"""``TFLiteModel``: a TFLite flatbuffer that behaves like the Keras model it came from.

What lpot hands to ``eval_func`` for a TFLite recipe. The contract (the Keras one, numpy out):

- ``model(x)`` and ``model.predict(x, batch_size=None)`` take what the Keras model takes: one array
  (or tensor), a list in ``model.inputs`` order, or a dict keyed by input name; any batch size.
- They return numpy arrays: one array for a single-output model, a list (Keras output order) else.
- ``model.content`` is the ``.tflite`` flatbuffer; ``model.layers`` maps each quantizable Keras
  layer to its TFLite ops; ``model.int8_layers()`` names the layers that run INT8 kernels.

The runtime is ``ai_edge_litert`` (LiteRT); ``tf.lite.Interpreter`` (deprecated) only if it is
missing. One interpreter per input shape is kept, since resizing re-plans the whole graph.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
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


class TFLiteModel:
    """A callable TFLite model with the Keras model's input/output contract (see module docstring)."""

    def __init__(self, content: bytes, *, num_threads: int | None = None) -> None:
        self.content = bytes(content)
        meta = tflite.read_metadata(self.content)
        self.layers: dict[str, dict[str, Any]] = meta.get("layers", {})
        self.input_order: list[str] = meta.get("inputs", [])
        self.recipe: dict[str, Any] | None = meta.get("recipe")
        self.num_threads = num_threads or default_threads()
        self._runners: dict[tuple[tuple[int, ...], ...], Any] = {}
        self._signature: Any = None

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
        sig = next(iter(self._signature.values()))
        return list(sig["inputs"])

    def feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        names = self.signature_inputs()
        if isinstance(inputs, Mapping):
            return {n: np.asarray(inputs[n], dtype=np.float32) for n in names}
        arrays = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        order = self.input_order if set(self.input_order) == set(names) else names
        if len(arrays) != len(order):
            raise ValueError(f"the model takes {len(order)} input(s) ({order}), got {len(arrays)}")
        return {n: np.asarray(a, dtype=np.float32) for n, a in zip(order, arrays)}

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        feeds = self.feeds(inputs)
        out = self._runner(feeds)(**feeds)
        keys = sorted(out, key=_output_index)
        values = [np.array(out[k]) for k in keys]
        return values[0] if len(values) == 1 else values

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

    # what it is ----------------------------------------------------------------------------
    def ops(self) -> list[tflite.OpInfo]:
        return tflite.ops_of(self.content)

    def int8_layers(self) -> set[str]:
        """Quantizable Keras layers whose every TFLite op reads INT8 activations and INT8 weights."""
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
