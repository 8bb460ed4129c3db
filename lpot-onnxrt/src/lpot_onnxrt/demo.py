"""The embedded default: a real conv net on real data, no download, no torch.

Data: scikit-learn's bundled ``load_digits`` (1,797 handwritten 8×8 digits), upsampled to 32×32 so
the convolutions carry enough work for INT8 to pay off; regenerated on each run (well under a
second), the same for a given seed. Model: the conv net of :mod:`lpot_onnxrt.demo_build`, built once
from seed 0 by ``tools/build_demo_model.py`` and shipped as package data in ``demo_data/``, because
building it takes about two minutes. Importing this module imports nothing heavy, so ``lpot demo``
says its first line before numpy, onnx or ONNX Runtime load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from lpot.demo import Demo, DemoSpec

if TYPE_CHECKING:
    import numpy as np
    import onnx

    Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

SIZE = 32
CHANNELS = (32, 64, 128)
INPUT = "image"
SHIPPED = "digits_cnn"  # demo_data/digits_cnn.onnx and digits_cnn.json (seed, sha256, FP32 accuracy)
VALIDATION = 500


def digits_data(seed: int = 0) -> Data:
    """``(x_train, y_train, x_val, y_val)``: float32 NCHW 32×32 images in [0, 1] and int64 labels."""
    import numpy as np
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits

    data = load_digits()
    images = (data.images / 16.0).astype(np.float32)
    images = zoom(images, (1, SIZE / 8, SIZE / 8), order=1).astype(np.float32)[:, None]
    labels = data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    split = len(labels) - VALIDATION
    train, val = order[:split], order[split:]
    return images[train], labels[train], images[val], labels[val]


def _shipped(folder: Any = None) -> Any:
    """Where the shipped files are: ``demo_data/`` of this package, unless told otherwise."""
    return folder if folder is not None else resources.files("lpot_onnxrt") / "demo_data"


def shipped_info(folder: Any = None) -> dict[str, Any] | None:
    """What ``tools/build_demo_model.py`` recorded about the shipped model, or None without one."""
    try:
        return json.loads((_shipped(folder) / f"{SHIPPED}.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def shipped_model(seed: int = 0, folder: Any = None) -> bytes | None:
    """The shipped model's bytes for ``seed``; None when there is none for that seed or the file is
    not the one its record describes (a truncated or edited copy is rebuilt, never tuned)."""
    info = shipped_info(folder)
    if info is None or info.get("seed") != seed:
        return None
    try:
        data = (_shipped(folder) / f"{SHIPPED}.onnx").read_bytes()
    except FileNotFoundError:
        return None
    return data if hashlib.sha256(data).hexdigest() == info.get("sha256") else None


def build_digits_model(seed: int = 0) -> tuple[onnx.ModelProto, Data]:
    """Build the conv net from scratch (about two minutes on two cores) and return it with its data."""
    from lpot_onnxrt.demo_build import build_digits_model as build

    return build(seed)


def digits_model(
    seed: int = 0, *, rebuild: bool = False, say: Callable[[str], None] | None = None
) -> tuple[onnx.ModelProto, Data]:
    """The demo conv net and its data: the shipped copy when there is one for ``seed``, else built."""
    data = None if rebuild else shipped_model(seed)
    if data is None:
        if say is not None:
            why = "as asked (--rebuild)" if rebuild else f"no shipped copy for seed {seed}"
            say(f"building the conv net from k-means filters, {why}: about two minutes on two cores …")
        return build_digits_model(seed)
    import onnx

    return onnx.load_from_string(data), digits_data(seed)


def _digits_spec(*, rebuild: bool = False, say: Callable[[str], None] | None = None) -> DemoSpec:
    from lpot.data import ArrayLoader

    model, (x_train, y_train, x_val, y_val) = digits_model(0, rebuild=rebuild, say=say)
    return DemoSpec(
        name="digits-cnn-onnx",
        description=(
            f"3-block conv net ({'-'.join(map(str, CHANNELS))} channels) on scikit-learn digits upsampled to "
            f"{SIZE}x{SIZE}; {len(y_train)} train / {len(y_val)} validation images; ONNX Runtime"
        ),
        model=model,
        q_dataloader=ArrayLoader(x_train[:200], y_train[:200], batch_size=20),
        eval_dataloader=ArrayLoader(x_val, y_val, batch_size=50),
        config={
            "model": {"name": "digits_cnn", "framework": "onnxrt_qdqops"},
            "quantization": {"approach": "post_training_static_quant", "calibration": {"sampling_size": 200}},
            "evaluation": {"accuracy": {"metric": {"topk": 1}}},
            "tuning": {
                "accuracy_criterion": {"relative": 0.01},
                "exit_policy": {"timeout": 0, "max_trials": 20},
                "random_seed": 9527,
            },
        },
    )


digits_demo = Demo(
    headline="tuning a conv net on scikit-learn's digits with ONNX Runtime",
    build=_digits_spec,
)
