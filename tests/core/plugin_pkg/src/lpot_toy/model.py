"""An MLP in numpy and its INT8 counterpart (int8 weights, uint8/int8 activations, int32 sums)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MLP:
    """Dense layers with ReLU between them; ``layers`` is a list of (name, weight, bias)."""

    layers: list[tuple[str, np.ndarray, np.ndarray]]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        outs = []
        h = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        for i, (_, w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
            outs.append(h)
        return outs

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name, w, b in self.layers:
            digest.update(name.encode() + w.tobytes() + b.tobytes())
        return digest.hexdigest()


@dataclass
class QuantizedLayer:
    name: str
    weight_q: np.ndarray  # int8
    weight_scale: np.ndarray  # per output channel or scalar
    bias: np.ndarray
    act_scale: float
    act_zero: int
    act_dtype: str


@dataclass
class QuantizedMLP:
    """Layers are either QuantizedLayer (integer matmul) or float (name, w, b) kept in FP32."""

    layers: list[object]
    recipe_json: str = ""
    calls: dict[str, int] = field(default_factory=dict)

    @property
    def int8_layers(self) -> list[str]:
        return [layer.name for layer in self.layers if isinstance(layer, QuantizedLayer)]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        outs = []
        h = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, QuantizedLayer):
                lo, hi = (0, 255) if layer.act_dtype == "uint8" else (-128, 127)
                hq = np.clip(np.round(h / layer.act_scale) + layer.act_zero, lo, hi).astype(np.int32)
                acc = (hq - layer.act_zero) @ layer.weight_q.astype(np.int32)  # int32 accumulate
                h = acc.astype(np.float32) * (layer.act_scale * layer.weight_scale) + layer.bias
            else:
                _, w, b = layer
                h = h @ w + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0)
            outs.append(h)
        return outs
