"""scikit-learn's 8x8 digits: flat features for the MLPs, upsampled images for the small torch nets."""

from __future__ import annotations

from functools import cache

import numpy as np

from lpot_zoo.batches import Batches, batched

TRAIN = 1200  # of 1797: the rest is the validation split


@cache
def digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_val, y_val)``: float32 features in [0, 1] (64 per digit), int64 labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    order = np.random.default_rng(seed).permutation(len(digits.target))
    x = (digits.data[order] / 16.0).astype(np.float32)
    y = digits.target[order].astype(np.int64)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def digit_images(x: np.ndarray, size: int = 32) -> np.ndarray:
    """Flat 8x8 digits -> float32 N x 1 x size x size (nearest upsampling: conv nets need room)."""
    images = x.reshape(-1, 1, 8, 8)
    factor = size // 8
    return np.ascontiguousarray(images.repeat(factor, axis=2).repeat(factor, axis=3), dtype=np.float32)


def digits_loader(
    batch_size: int = 32, *, count: int | None = None, images: int | None = None, seed: int = 0
) -> Batches:
    """The validation split with its real labels; ``images=32`` gives 1x32x32 images instead of 64
    features; ``count`` keeps the first rows (lean fixtures)."""
    _, _, x, y = digits_split(seed)
    x, y = x[:count], y[:count]
    return batched(digit_images(x, images) if images else x, y, batch_size)
