"""Per-sample transforms named as in LPOT configs, in numpy (Pillow for resampling).

A transform is called as ``t(image, label, rng) -> (image, label)``; random ones draw from ``rng``,
which the loader seeds from the run's seed and the sample index, so results are reproducible.
Images are HWC until ``ToTensor``/``Transpose`` make them CHW.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lpot.errors import DataError

INTERPOLATIONS = {"nearest": 0, "bilinear": 2, "bicubic": 3}


def _pair(size: int | Sequence[int], where: str) -> tuple[int, int]:
    if isinstance(size, int) and size > 0:
        return size, size
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size):
        return int(size[0]), int(size[1])
    raise DataError(f"{where}: expected a positive size or [height, width], got {size!r}")


def resize(image: np.ndarray, height: int, width: int, interpolation: str = "bilinear") -> np.ndarray:
    """Resample an HWC (or HW) image with Pillow, keeping its dtype (float images channel by channel)."""
    from PIL import Image

    method = INTERPOLATIONS[interpolation]
    if image.dtype == np.uint8:
        return np.asarray(
            Image.fromarray(image.squeeze(-1) if image.ndim == 3 and image.shape[-1] == 1 else image).resize(
                (width, height), method
            )
        ).reshape(height, width, *image.shape[2:])
    planes = image[..., None] if image.ndim == 2 else image
    out = [
        np.asarray(
            Image.fromarray(planes[..., c].astype(np.float32), mode="F").resize((width, height), method)
        )
        for c in range(planes.shape[-1])
    ]
    result = np.stack(out, axis=-1).astype(image.dtype)
    return result[..., 0] if image.ndim == 2 else result


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    h, w = image.shape[:2]
    if height > h or width > w:
        raise DataError(f"CenterCrop: crop {height}x{width} is larger than the image {h}x{w}")
    top, left = (h - height) // 2, (w - width) // 2
    return image[top : top + height, left : left + width]


class Resize:
    """Resize to ``size`` (an int means a square, as in LPOT's numpy/ONNX configs)."""

    def __init__(self, size: int | Sequence[int], interpolation: str = "bilinear") -> None:
        self.height, self.width = _pair(size, "Resize.size")
        if interpolation not in INTERPOLATIONS:
            raise DataError(
                f"Resize.interpolation: expected one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}"
            )
        self.interpolation = interpolation

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return resize(image, self.height, self.width, self.interpolation), label


class CenterCrop:
    def __init__(self, size: int | Sequence[int]) -> None:
        self.height, self.width = _pair(size, "CenterCrop.size")

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return center_crop(image, self.height, self.width), label


class RandomResizedCrop:
    """A random area/aspect crop resized to ``size`` (Inception-style training augmentation)."""

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        interpolation: str = "bilinear",
    ) -> None:
        self.height, self.width = _pair(size, "RandomResizedCrop.size")
        self.scale, self.ratio, self.interpolation = tuple(scale), tuple(ratio), interpolation

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        h, w = image.shape[:2]
        for _ in range(10):
            area = h * w * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
                crop = image[top : top + ch, left : left + cw]
                return resize(crop, self.height, self.width, self.interpolation), label
        side = min(h, w)
        return resize(center_crop(image, side, side), self.height, self.width, self.interpolation), label


class RandomHorizontalFlip:
    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return (image[:, ::-1].copy() if rng.random() < self.p else image), label


class ToArray:
    """Make the image a numpy array (decoded images already are): kept for LPOT configs."""

    def __call__(self, image: Any, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return np.asarray(image), label


class ToTensor:
    """HWC uint8 → CHW float32 in [0, 1], as torchvision's ToTensor that LPOT PyTorch configs use."""

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        image = np.asarray(image)
        scaled = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
        return (scaled[None] if scaled.ndim == 2 else np.ascontiguousarray(scaled.transpose(2, 0, 1))), label


class Rescale:
    """uint8 [0, 255] → float32 [0, 1]."""

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return np.asarray(image, dtype=np.float32) / 255.0, label


class Normalize:
    """``(image - mean) / std`` per channel: on the last axis (HWC), or on the first when only it
    matches the number of means (CHW after ToTensor)."""

    def __init__(self, mean: Sequence[float] = (0.0,), std: Sequence[float] = (1.0,)) -> None:
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        if np.any(self.std == 0):
            raise DataError(f"Normalize.std: must not contain 0, got {list(std)}")

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        image = np.asarray(image, dtype=np.float32)
        n = self.mean.size
        if image.ndim == 3 and image.shape[-1] != n and image.shape[0] == n:  # CHW
            return (image - self.mean[:, None, None]) / self.std[:, None, None], label
        if n > 1 and image.shape[-1] != n:
            raise DataError(f"Normalize: {n} channel means for an image of shape {list(image.shape)}")
        return (image - self.mean) / self.std, label


class Transpose:
    def __init__(self, perm: Sequence[int]) -> None:
        self.perm = tuple(perm)

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        if len(self.perm) != np.ndim(image):
            raise DataError(
                f"Transpose.perm: {list(self.perm)} does not fit an image of shape {list(np.shape(image))}"
            )
        return np.ascontiguousarray(np.transpose(image, self.perm)), label


class Cast:
    def __init__(self, dtype: str = "float32") -> None:
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise DataError(f"Cast.dtype: {dtype!r} is not a numpy dtype") from None

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        return np.asarray(image).astype(self.dtype), label


class ResizeCropImagenet:
    """LPOT's ImageNet eval pre-processing: shorter side to ``resize_side``, central (or random)
    crop to ``height``×``width``, minus ``mean_value``, times ``scale``; float32 HWC."""

    def __init__(
        self,
        height: int,
        width: int,
        random_crop: bool = False,
        resize_side: int = 256,
        random_flip_left_right: bool = False,
        mean_value: Sequence[float] = (0.0, 0.0, 0.0),
        scale: float = 1.0,
    ) -> None:
        self.height, self.width, self.random_crop, self.side = height, width, random_crop, resize_side
        self.flip, self.mean, self.scale = random_flip_left_right, np.asarray(mean_value, np.float32), scale

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        h, w = image.shape[:2]
        ratio = self.side / min(h, w)
        image = resize(image, max(self.height, round(h * ratio)), max(self.width, round(w * ratio)))
        if self.random_crop:
            top = int(rng.integers(0, image.shape[0] - self.height + 1))
            left = int(rng.integers(0, image.shape[1] - self.width + 1))
            image = image[top : top + self.height, left : left + self.width]
        else:
            image = center_crop(image, self.height, self.width)
        if self.flip and rng.random() < 0.5:
            image = image[:, ::-1]
        return (image.astype(np.float32) - self.mean) * self.scale, label


class BilinearImagenet:
    """LPOT's Inception-style pre-processing: [0, 1] floats, central crop of ``central_fraction``,
    bilinear resize to ``height``×``width``, then ``(x - mean_value) * scale``."""

    def __init__(
        self,
        height: int,
        width: int,
        central_fraction: float = 0.875,
        mean_value: Sequence[float] = (0.0, 0.0, 0.0),
        scale: float = 1.0,
    ) -> None:
        if not 0 < central_fraction <= 1:
            raise DataError(f"BilinearImagenet.central_fraction: expected (0, 1], got {central_fraction!r}")
        self.height, self.width, self.fraction = height, width, central_fraction
        self.mean, self.scale = np.asarray(mean_value, np.float32), scale

    def __call__(self, image: np.ndarray, label: Any, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
        image = np.asarray(image)
        image = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
        h, w = image.shape[:2]
        image = center_crop(image, max(1, int(h * self.fraction)), max(1, int(w * self.fraction)))
        image = resize(image, self.height, self.width, "bilinear")
        return (image - self.mean) * self.scale, label


class LabelShift:
    """Add ``label_shift`` to integer labels (e.g. 1001-class models against 1000-class labels)."""

    def __init__(self, label_shift: int = 0) -> None:
        self.shift = label_shift

    def __call__(self, image: Any, label: Any, rng: np.random.Generator) -> tuple[Any, Any]:
        return image, (label if label is None else np.asarray(label) + self.shift)
