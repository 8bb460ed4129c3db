"""How the demo's conv net is made: no download, no torch, about two minutes on two cores.

Three Conv→Relu→MaxPool blocks whose filters are learned without backprop (k-means centroids of
normalized patches, one layer at a time, as in Coates & Ng's single-layer networks) and a Gemm
read-out fit by logistic regression on the features ONNX Runtime computes. Deterministic for a given
seed. ``lpot demo`` loads the copy built by ``tools/build_demo_model.py`` and shipped in
``demo_data/``; this module runs only when that file is missing or ``--rebuild`` is asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lpot_onnxrt.demo import CHANNELS, INPUT, SIZE, digits_data
from lpot_onnxrt.sessions import make_session


def _patches(x: np.ndarray, rng: np.random.Generator, count: int) -> np.ndarray:
    """Random 3×3×C patches (with zero padding, as the conv sees them), flattened."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    idx, rows, cols = rng.integers(0, n, count), rng.integers(0, h, count), rng.integers(0, w, count)
    out = np.stack([padded[i, :, r : r + 3, q : q + 3] for i, r, q in zip(idx, rows, cols)])
    return out.reshape(count, c * 9)


def _filters(x: np.ndarray, channels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k-means centroids of contrast-normalized patches as filters; bias centers each response."""
    from sklearn.cluster import MiniBatchKMeans

    patches = _patches(x, rng, 12000)
    patches = patches[np.abs(patches).sum(1) > 1e-3]
    centered = patches - patches.mean(1, keepdims=True)
    norm = centered / (np.linalg.norm(centered, axis=1, keepdims=True) + 1e-3)
    km = MiniBatchKMeans(
        n_clusters=channels, random_state=int(rng.integers(1 << 30)), n_init=3, batch_size=2048
    )
    km.fit(norm)
    weights = km.cluster_centers_ / (np.linalg.norm(km.cluster_centers_, axis=1, keepdims=True) + 1e-6)
    responses = patches @ weights.T
    bias = -np.percentile(responses, 75, axis=0)  # keep the strongest quarter of responses
    c = x.shape[1]
    return weights.reshape(channels, c, 3, 3).astype(np.float32), bias.astype(np.float32)


class _Builder:
    """Accumulates Conv→Relu→MaxPool blocks, able to run the graph so far on data."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.last = INPUT
        self.shape = [1, SIZE, SIZE]

    def block(self, index: int, weight: np.ndarray, bias: np.ndarray) -> None:
        w, b = f"conv{index}.weight", f"conv{index}.bias"
        self.inits += [numpy_helper.from_array(weight, w), numpy_helper.from_array(bias, b)]
        self.nodes += [
            helper.make_node(
                "Conv",
                [self.last, w, b],
                [f"conv{index}"],
                name=f"conv{index}",
                pads=[1, 1, 1, 1],
                kernel_shape=[3, 3],
            ),
            helper.make_node("Relu", [f"conv{index}"], [f"relu{index}"], name=f"relu{index}"),
            helper.make_node(
                "MaxPool",
                [f"relu{index}"],
                [f"pool{index}"],
                name=f"pool{index}",
                kernel_shape=[2, 2],
                strides=[2, 2],
            ),
        ]
        self.last = f"pool{index}"
        self.shape = [weight.shape[0], self.shape[1] // 2, self.shape[2] // 2]

    def model(
        self,
        output: str,
        shape: list[Any],
        nodes: list[onnx.NodeProto] | None = None,
        inits: list[onnx.TensorProto] | None = None,
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes + (nodes or []),
            "digits_cnn",
            [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", 1, SIZE, SIZE])],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", *shape])],
            self.inits + (inits or []),
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lpot-demo"
        )
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model

    def run(self, x: np.ndarray) -> np.ndarray:
        session = make_session(self.model(self.last, self.shape))
        return np.concatenate([session.run(None, {INPUT: x[i : i + 256]})[0] for i in range(0, len(x), 256)])


def build_digits_model(
    seed: int = 0,
) -> tuple[onnx.ModelProto, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """The demo conv net and its data ``(x_train, y_train, x_val, y_val)`` (float32 NCHW, int64)."""
    from sklearn.linear_model import LogisticRegression

    x_train, y_train, x_val, y_val = digits_data(seed)
    rng = np.random.default_rng(seed)
    builder = _Builder()
    features = x_train
    for index, channels in enumerate(CHANNELS, start=1):
        weight, bias = _filters(features, channels, rng)
        builder.block(index, weight, bias)
        features = builder.run(x_train)
    flat = features.reshape(len(features), -1)
    scale = float(np.percentile(flat, 99)) or 1.0
    clf = LogisticRegression(C=0.05, max_iter=300).fit(flat / scale, y_train)
    fc_w = (clf.coef_ / scale).astype(np.float32)
    fc_b = clf.intercept_.astype(np.float32)
    nodes = [
        helper.make_node("Flatten", [builder.last], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc", transB=1),
    ]
    inits = [numpy_helper.from_array(fc_w, "fc.weight"), numpy_helper.from_array(fc_b, "fc.bias")]
    model = builder.model("logits", [10], nodes, inits)
    return model, (x_train, y_train, x_val, y_val)
