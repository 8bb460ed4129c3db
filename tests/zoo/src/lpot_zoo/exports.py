"""ONNX exports of EfficientNet-Lite0 and MiniLM, made once per package versions and cached.

Exported as users do with torch 2.13: ``torch.onnx.export(..., opset_version=17, dynamo=False)``
(the dynamo exporter writes opset 18 and fails to down-convert). MiniLM's export is the sentence
embedder (mean pooling inside the graph) with dynamic batch and sequence axes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lpot_zoo.cache import cached_file

OPSET = 17


@contextlib.contextmanager
def legacy_exporter() -> Iterator[None]:
    """torch 2.13 deprecates the TorchScript-based exporter that ``dynamo=False`` selects; the zoo
    uses it on purpose (it is what writes opset 17, see the module docstring), so its warning is
    silenced here only, and the suite's DeprecationWarning policy still holds everywhere else."""
    import torch

    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="You are using the legacy TorchScript-based ONNX export",
            category=DeprecationWarning,
        )
        yield


def _export(model: Any, args: tuple[Any, ...], path: Path, **names: Any) -> None:
    import torch

    with legacy_exporter():
        torch.onnx.export(model, args, str(path), opset_version=OPSET, dynamo=False, **names)


def efficientnet_onnx() -> Path:
    """``images`` (N x 3 x 224 x 224, dynamic N) -> ``logits`` (N x 1000)."""
    from lpot_zoo.efficientnet import MADE_BY, load_efficientnet_lite0

    def build(path: Path) -> None:
        import torch

        _export(
            load_efficientnet_lite0(),
            (torch.zeros(1, 3, 224, 224),),
            path,
            input_names=["images"],
            output_names=["logits"],
            dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}},
        )

    return cached_file("efficientnet_lite0.onnx", (*MADE_BY, "onnx"), build, extra=f"opset={OPSET}")


def minilm_onnx() -> Path:
    """``input_ids``, ``attention_mask`` (int64, N x L, both axes dynamic) -> ``sentence_embedding`` (N x 384)."""
    from lpot_zoo.minilm import INPUT_NAMES, MADE_BY, sentence_embedder

    def build(path: Path) -> None:
        import torch

        ids = torch.ones(2, 16, dtype=torch.int64)
        _export(
            sentence_embedder(),
            (ids, torch.ones_like(ids)),
            path,
            input_names=list(INPUT_NAMES),
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES},
                "sentence_embedding": {0: "batch"},
            },
        )

    return cached_file("all_minilm_l6_v2.onnx", (*MADE_BY, "onnx"), build, extra=f"opset={OPSET}")


def ort_predictor(path: Path | str, *, threads: int = 2, output: int | str = 0) -> Any:
    """``inputs -> numpy output`` with an ONNX Runtime session (no spinning: fair next to others)."""
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    first = session.get_inputs()[0].name
    names = [o.name for o in session.get_outputs()]
    wanted = output if isinstance(output, str) else names[output]

    def predict(inputs: Any) -> np.ndarray:
        feed = dict(inputs) if isinstance(inputs, dict) else {first: inputs}
        return np.asarray(session.run([wanted], feed)[0])

    predict.session = session  # type: ignore[attr-defined]
    return predict
