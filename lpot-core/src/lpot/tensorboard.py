"""TensorBoard dumps for tuning debug (the original tool's ``tensorboard: true``).

For the FP32 model and the tuned one: per-op activation histograms (from the backend's
``inspect``), per-op weight histograms (from its optional ``op_weights``, INT8 weights dequantized)
and, for the tuned model, each op's relative error against FP32. Written with tensorboardX in
TensorBoard's event format: ``tensorboard --logdir <workspace>/tensorboard``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lpot.errors import ConfigError
from lpot.recipe import OpKey


def require_writer() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ConfigError(
            "tensorboard: true needs the tensorboardX package: pip install 'lpot-core[tensorboard]'"
        ) from None
    return SummaryWriter


def write_tensorboard(
    logdir: Path,
    backend: Any,
    fp32: Any,
    tuned: Any,
    ops: Sequence[OpKey],
    dataloader: Iterable[Any],
    *,
    step: int = 0,
    batches: int = 2,
) -> Path:
    """Write ``logdir/fp32`` and ``logdir/tuned`` event files; return ``logdir``."""
    writer_cls = require_writer()
    data = list(itertools.islice(dataloader, batches))
    outputs = {
        "fp32": backend.inspect(fp32, data, ops, batches),
        "tuned": backend.inspect(tuned, data, ops, batches),
    }
    weights = {"fp32": backend.op_weights(fp32, ops), "tuned": backend.op_weights(tuned, ops)}
    for label, model_outputs in outputs.items():
        with writer_cls(str(Path(logdir) / label)) as writer:
            for name, values in model_outputs.items():
                writer.add_histogram(f"activation/{name}", np.asarray(values, np.float32), step)
            for name, values in weights[label].items():
                writer.add_histogram(f"weight/{name}", np.asarray(values, np.float32), step)
            if label == "tuned":
                for name, values in model_outputs.items():
                    ref = outputs["fp32"].get(name)
                    if ref is not None and ref.shape == values.shape:
                        denom = float(np.sum(np.square(ref, dtype=np.float64))) or 1.0
                        writer.add_scalar(
                            f"error/{name}", float(np.sum(np.square(values - ref)) / denom), step
                        )
    return Path(logdir)
