"""Real photographs shipped inside the scikit-image and scikit-learn wheels, as ImageNet inputs.

Seven colour photographs (an astronaut, a cat, a coffee cup, a rocket, a motorcycle, a temple, a
flower) cut into square crops of varying scale and position, every other one mirrored, resized to
224x224 and normalized with ImageNet's mean and std. They carry no ImageNet labels: the metric is
top-1 agreement with the FP32 model (see :mod:`lpot_zoo.agreement`).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from lpot_zoo.batches import Batches, batched

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "china", "flower")


@cache
def photographs() -> dict[str, np.ndarray]:
    """The photographs as uint8 HxWx3 arrays, by name."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    sample = dict(zip(("china", "flower"), load_sample_images().images))
    photos = {
        "astronaut": data.astronaut(),
        "chelsea": data.chelsea(),
        "coffee": data.coffee(),
        "rocket": data.rocket(),
        "motorcycle": data.stereo_motorcycle()[0],
        **sample,
    }
    return {name: np.ascontiguousarray(photos[name][..., :3]) for name in PHOTOS}


def photo_crops(count: int, size: int = 224, seed: int = 0) -> np.ndarray:
    """``count`` crops as float32 NHWC in [0, 1]: photo ``i % 7``, the first round centred and whole,
    later rounds a random square of 50-100 % of the short side; odd rounds mirrored."""
    from skimage.transform import resize

    rng = np.random.default_rng(seed)
    photos = photographs()
    out = np.empty((count, size, size, 3), dtype=np.float32)
    for i in range(count):
        image = photos[PHOTOS[i % len(PHOTOS)]]
        round_ = i // len(PHOTOS)
        h, w = image.shape[:2]
        side = min(h, w) if round_ == 0 else int(min(h, w) * rng.uniform(0.5, 1.0))
        top = (h - side) // 2 if round_ == 0 else int(rng.integers(0, h - side + 1))
        left = (w - side) // 2 if round_ == 0 else int(rng.integers(0, w - side + 1))
        crop = image[top : top + side, left : left + side]
        if round_ % 2:
            crop = crop[:, ::-1]
        out[i] = resize(crop, (size, size), anti_aliasing=True, preserve_range=False)
    return out


def imagenet_normalize(images: np.ndarray, layout: str = "nchw") -> np.ndarray:
    """NHWC images in [0, 1] -> ImageNet-normalized float32, NCHW (torch, ONNX, Gluon) or NHWC (Keras)."""
    if layout not in ("nchw", "nhwc"):
        raise ValueError(f"layout must be 'nchw' or 'nhwc', got {layout!r}")
    x = ((images - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if layout == "nchw" else x


@cache
def _normalized(count: int, size: int, seed: int, layout: str) -> np.ndarray:
    return imagenet_normalize(photo_crops(count, size, seed), layout)


def photo_array(count: int = 16, layout: str = "nchw", size: int = 224, seed: int = 0) -> np.ndarray:
    """``count`` normalized crops in one array (computed once per process and shared: do not write to it)."""
    return _normalized(count, size, seed, layout)


def photo_loader(count: int = 16, batch_size: int = 8, layout: str = "nchw", seed: int = 0) -> Batches:
    """``count`` crops in batches with no labels: label them with the FP32 model's top-1
    (:func:`lpot_zoo.agreement.top1_labelled`). Lean fixtures take 16; benchmarks 112 or more."""
    return batched(photo_array(count, layout, seed=seed), None, batch_size)
