"""Sparsity patterns: which weights a mask may remove, computed from importance scores in numpy.

Weights are viewed as 2-D ``[out, in]`` (convolution kernels flattened into ``in``), the layout
every framework can reshape to and from:
- ``unstructured``: any weight; the lowest scores go first.
- ``N:M`` (e.g. ``2:4``): in every group of M consecutive inputs of one output, N stay.
- ``RxC`` blocks (e.g. ``1x4``, ``4x1``): whole blocks, scored by their summed importance.
- ``channel``: whole output channels (rows), scored by their summed importance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lpot.config._checks import InvalidField


@dataclass(frozen=True)
class Pattern:
    kind: str  # unstructured | nm | block | channel
    n: int = 0
    m: int = 0
    rows: int = 1
    cols: int = 1

    def __str__(self) -> str:
        if self.kind == "nm":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"{self.rows}x{self.cols}"
        return self.kind

    @property
    def fixed_sparsity(self) -> float | None:
        """N:M fixes the sparsity (1 - N/M); the others follow the schedule."""
        return 1.0 - self.n / self.m if self.kind == "nm" else None

    def mask(self, scores: np.ndarray, sparsity: float) -> np.ndarray:
        """A 0/1 mask of ``scores``' shape removing about ``sparsity`` of the weights."""
        matrix = scores.reshape(scores.shape[0], -1).astype(np.float64)
        if sparsity <= 0.0:
            return np.ones_like(scores, dtype=np.float32)
        if self.kind == "unstructured":
            keep = _keep_top(matrix.ravel(), sparsity).reshape(matrix.shape)
        elif self.kind == "channel":
            keep = np.repeat(_keep_top(matrix.sum(1), sparsity)[:, None], matrix.shape[1], axis=1)
        elif self.kind == "block":
            keep = _block_mask(matrix, self.rows, self.cols, sparsity)
        else:
            keep = _nm_mask(matrix, self.n, self.m)
        return keep.reshape(scores.shape).astype(np.float32)


def _keep_top(values: np.ndarray, sparsity: float) -> np.ndarray:
    """True for the ``1 - sparsity`` share of ``values`` with the highest score (ties by position)."""
    remove = int(round(sparsity * values.size))
    keep = np.ones(values.size, dtype=bool)
    if remove > 0:
        keep[np.argsort(values, kind="stable")[:remove]] = False
    return keep


def _block_mask(matrix: np.ndarray, rows: int, cols: int, sparsity: float) -> np.ndarray:
    out_dim, in_dim = matrix.shape
    pr, pc = -out_dim % rows, -in_dim % cols  # pad so blocks tile the matrix; padding is never kept
    padded = np.pad(matrix, ((0, pr), (0, pc)))
    blocks = padded.reshape(padded.shape[0] // rows, rows, padded.shape[1] // cols, cols).sum(axis=(1, 3))
    keep = _keep_top(blocks.ravel(), sparsity).reshape(blocks.shape)
    full = np.repeat(np.repeat(keep, rows, axis=0), cols, axis=1)
    return full[:out_dim, :in_dim]


def _nm_mask(matrix: np.ndarray, n: int, m: int) -> np.ndarray:
    out_dim, in_dim = matrix.shape
    pad = -in_dim % m
    groups = np.pad(matrix, ((0, 0), (0, pad)), constant_values=-np.inf).reshape(out_dim, -1, m)
    order = np.argsort(-groups, axis=-1, kind="stable")
    keep = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(keep, order[..., :n], True, axis=-1)
    return keep.reshape(out_dim, -1)[:, :in_dim]


def parse_pattern(value: object, key: str = "pattern") -> Pattern:
    text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
    if text in ("unstructured", "channel"):
        return Pattern(text)
    if match := re.fullmatch(r"(\d+)\s*:\s*(\d+)", text):
        n, m = int(match[1]), int(match[2])
        if 0 < n < m:
            return Pattern("nm", n=n, m=m)
    if match := re.fullmatch(r"(\d+)\s*x\s*(\d+)", text):
        rows, cols = int(match[1]), int(match[2])
        if rows > 0 and cols > 0 and rows * cols > 1:
            return Pattern("block", rows=rows, cols=cols)
    raise InvalidField(
        key, f"expected unstructured, channel, N:M (e.g. 2:4, N < M) or a block RxC (e.g. 1x4), got {value!r}"
    )
