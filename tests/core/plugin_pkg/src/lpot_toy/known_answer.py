"""The known-answer model every strategy is tested on (lpot-core's tests and the reliability suite).

``known_answer_model(n, bad)`` is a chain of ``n`` dense layers (numpy INT8 toy backend) where
quantizing exactly the layers in ``bad`` destroys accuracy, for real: the layer before each bad one
writes a constant 10 000 into a spare channel that the bad layer ignores in FP32, so the bad layer's
calibrated INT8 input range is [0, 10 000] and every useful activation rounds to zero. No calibration
algorithm, scheme or dtype rescues it; only FP32 does. Every other layer loses nothing measurable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lpot.data import ArrayLoader
from lpot_toy.model import MLP

WIDTH = 16  # features; one more spare channel carries the outlier
CLASSES = 4
OUTLIER = 10_000.0
# One INT8 config per op (uint8 asym minmax activations, per-channel weights): 2^n recipes.
ONE_CONFIG = {
    "activation": {"dtype": ["uint8"], "scheme": ["asym"], "algorithm": ["minmax"]},
    "weight": {"granularity": ["per_channel"]},
}
STRATEGIES = ("basic", "random", "exhaustive", "mse", "sensitivity", "bayesian", "tpe")


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    centers = np.random.default_rng(99).normal(0, 3, size=(CLASSES, WIDTH))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, size=n)
    x = centers[y] + rng.normal(0, 0.7, size=(n, WIDTH)) + 10.0  # positive: ReLU keeps everything
    return x.astype(np.float32), y.astype(np.int64)


def known_answer_model(n: int = 8, bad: tuple[str, ...] = ("fc3", "fc6")) -> MLP:
    """``n`` layers fc1..fcn; quantizing any layer in ``bad`` (not fc1) destroys accuracy."""
    names = [f"fc{i + 1}" for i in range(n)]
    assert "fc1" not in bad, "the input has no outlier channel; fc1 cannot be a bad layer"
    rng = np.random.default_rng(7)
    x, y = _data(0, 400)
    h, layers = x, []
    for i, name in enumerate(names[:-1]):
        w = np.eye(WIDTH + 1, dtype=np.float32)[: h.shape[1]]  # the input has no spare channel
        w[:WIDTH, :WIDTH] += rng.normal(0, 0.05, size=(WIDTH, WIDTH)).astype(np.float32)
        w[WIDTH:, :] = 0.0  # every layer ignores the spare channel ...
        w[:, WIDTH] = 0.0
        b = np.zeros(WIDTH + 1, np.float32)
        if names[i + 1] in bad:
            b[WIDTH] = OUTLIER  # ... which the layer before a bad one fills with a huge constant
        layers.append((name, w, b))
        h = np.maximum(h @ w + b, 0)
    target = np.eye(CLASSES, dtype=np.float32)[y]
    readout = np.linalg.lstsq(np.c_[h[:, :WIDTH], np.ones(len(h))], target, rcond=None)[0].astype(np.float32)
    w_out = np.zeros((WIDTH + 1, CLASSES), np.float32)
    w_out[:WIDTH] = readout[:-1]
    layers.append((names[-1], w_out, readout[-1]))
    return MLP(layers)


def loaders() -> tuple[ArrayLoader, ArrayLoader]:
    x, y = _data(1, 400)
    return ArrayLoader(x[:200], y[:200], 50), ArrayLoader(x[200:], y[200:], 50)


class Accuracy:
    """Real top-1 accuracy of the model on held-out blobs; ``error=True`` returns 1 - accuracy."""

    def __init__(self, error: bool = False, interrupt_after: int | None = None) -> None:
        self.data = loaders()[1]
        self.error = error
        self.interrupt_after = interrupt_after
        self.calls = 0

    def __call__(self, model: Any) -> float:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of a trial
        correct = total = 0
        for x, y in self.data:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
        accuracy = correct / total
        return 1.0 - accuracy if self.error else accuracy


class Fp32Layers:
    """The number of layers left in FP32 (lower is better): a deterministic stand-in for latency,
    so two runs measure the same thing and the best met trial is the most INT8 one."""

    name = "fp32_layers"
    unit = "layers"
    higher_is_better = False

    def measure(self, backend: Any, model: Any, dataloader: Any) -> float:
        return float(len(model.layers) - len(getattr(model, "int8_layers", [])))
