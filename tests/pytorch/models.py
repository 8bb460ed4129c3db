"""Small real PyTorch models for the tests and benchmarks, built and trained here in seconds."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def digits_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as float32 NCHW in [0, 1], split 1200 train / 597 validation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return x[:1200], y[:1200], x[1200:], y[1200:]


class DigitsNet(nn.Module):
    """Conv-BN-ReLU blocks, a residual add, pooling and two Linear layers: the shapes torch.fx
    quantization must handle (fusion, functional ops, flatten)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)) + x)
        x = self.pool(self.relu(self.conv3(x)))
        x = torch.flatten(x, 1)
        return self.fc2(self.relu(self.fc1(x)))


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int = 8, seed: int = 0, lr: float = 3e-3
) -> nn.Module:
    """Plain Adam training loop (also what QAT's q_func runs)."""
    torch.manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    return model.eval()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.inference_mode():
        logits = model(torch.from_numpy(x))
    return float((logits.argmax(-1).numpy() == y).mean())


class TinyEncoder(nn.Module):
    """A small transformer encoder classifier over token sequences (dynamic INT8 target)."""

    def __init__(self, vocab: int = 64, dim: int = 64, layers: int = 2, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=128, batch_first=True, dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(1))


def token_task(n: int = 1200, length: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sequences whose class is which of four token ranges dominates: learnable in seconds."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    tokens = rng.integers(0, 64, (n, length))
    dominant = rng.random((n, length)) < 0.5
    tokens[dominant] = (y[:, None] * 16 + rng.integers(0, 16, (n, length)))[dominant]
    return tokens.astype(np.int64), y.astype(np.int64)
