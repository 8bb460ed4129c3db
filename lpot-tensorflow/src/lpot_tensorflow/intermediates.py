"""Intermediate tensors of a TFLite model, batch by batch.

Per-op inspection (FP32 vs INT8 outputs) and histogram calibration both read tensors the runtime
normally overwrites: the interpreter is made with ``experimental_preserve_all_tensors``, and
re-planned only when the input shapes change (a short last batch).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Collection, Iterable, Iterator
from typing import Any

import numpy as np

from lpot_tensorflow.runtime import TFLiteModel, interpreter_class


def _interpreter(content: bytes, delegates: bool) -> Any:
    cls = interpreter_class()
    kwargs: dict[str, Any] = {"experimental_preserve_all_tensors": True}
    if not delegates:  # the builtin kernels the converter's calibrator runs, every tensor computed
        kwargs["experimental_op_resolver_type"] = importlib.import_module(
            cls.__module__
        ).OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    with warnings.catch_warnings():  # "for debugging purposes only": reading intermediates is the point
        warnings.simplefilter("ignore")
        return cls(model_content=content, **kwargs)


def tensor_values(
    model: TFLiteModel, batches: Iterable[Any], names: Collection[str], *, delegates: bool = True
) -> Iterator[dict[str, np.ndarray]]:
    """For each input batch, ``{name: value}`` of the tensors ``names`` as float32 (INT8 tensors
    dequantized). ``delegates=False`` runs TFLite's builtin kernels without XNNPACK."""
    interpreter = _interpreter(model.content, delegates)
    details = {d["name"]: d for d in interpreter.get_tensor_details()}
    missing = [n for n in names if n not in details]
    if missing:
        raise KeyError(f"no tensor(s) {missing[:3]} in the TFLite graph")
    sig = interpreter.get_signature_list()
    if sig:
        runner = interpreter.get_signature_runner().get_input_details()
        index = {n: runner[n]["index"] for n in next(iter(sig.values()))["inputs"]}
    else:
        index = {d["name"]: d["index"] for d in interpreter.get_input_details()}
    shape: tuple[Any, ...] | None = None
    for batch in batches:
        feeds = model.feeds(batch)
        now = tuple(tuple(v.shape) for v in feeds.values())
        if now != shape:
            for n, v in feeds.items():
                interpreter.resize_tensor_input(index[n], v.shape)
            interpreter.allocate_tensors()
            shape = now
        for n, v in feeds.items():
            interpreter.set_tensor(index[n], v)
        interpreter.invoke()
        yield {name: _float(interpreter.get_tensor(details[name]["index"]), details[name]) for name in names}


def _float(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    if value.dtype != np.float32:
        scale, zero = detail["quantization"]
        value = (value.astype(np.float32) - zero) * (scale or 1.0)
    return value.astype(np.float32, copy=False)
