"""InferenceSessions made the same way everywhere, and feeds built from lpot batches."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from lpot.errors import DataError

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(bool)": np.bool_,
}


def make_session(model: onnx.ModelProto | bytes, threads: int | None = None) -> ort.InferenceSession:
    """A CPU session. Idle intra-op threads do not spin: with several sessions alive in one process,
    spinning threads steal the cores of the session being measured (see shared FACTS)."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    data = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def feeds(session: ort.InferenceSession, inputs: Any) -> dict[str, np.ndarray]:
    """Session feeds from a batch's inputs: one array for single-input models, else a dict by name."""
    specs = session.get_inputs()
    if isinstance(inputs, dict):
        names = {s.name for s in specs}
        missing = sorted(names - set(inputs))
        if missing:
            raise DataError(f"batch has no input named {missing[0]!r}; the model expects {sorted(names)}")
        items = [(s, inputs[s.name]) for s in specs]
    elif isinstance(inputs, (list, tuple)) and len(specs) > 1 and len(inputs) == len(specs):
        items = list(zip(specs, inputs))
    else:
        if len(specs) != 1:
            raise DataError(
                f"the model has {len(specs)} inputs {[s.name for s in specs]}: yield a dict of arrays"
            )
        items = [(specs[0], inputs)]
    out = {}
    for spec, value in items:
        array = np.asarray(value)
        dtype = _ORT_TYPES.get(spec.type)
        if dtype is not None and array.dtype.kind not in "biuf":
            raise DataError(
                f"input {spec.name!r} of the model is {spec.type}; the batch has dtype {array.dtype} "
                f"({'text' if array.dtype.kind in 'US' else 'objects'}): give arrays of numbers"
            )
        if dtype is not None and array.dtype != dtype:
            array = array.astype(dtype)
        expected = spec.shape
        if len(expected) != array.ndim or any(
            isinstance(d, int) and d != s for d, s in zip(expected, array.shape)
        ):
            raise DataError(
                f"input {spec.name!r} expects shape {expected} ({spec.type}), got a batch of shape {list(array.shape)}"
            )
        out[spec.name] = array
    return out
