"""Transforms named as in LPOT configs, against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lpot.data.builder import build_transforms
from lpot.errors import DataError

RNG = np.random.default_rng(0)


def _apply(section, image, label=3, seed=0):
    rng = np.random.default_rng(seed)
    for t in build_transforms(section, "transform"):
        image, label = t(image, label, rng)
    return image, label


def _ramp(h=4, w=6):
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3)


def test_resize_keeps_constant_images_constant_and_dtype():
    out, _ = _apply({"Resize": {"size": [8, 10]}}, np.full((4, 6, 3), 77, np.uint8))
    assert out.shape == (8, 10, 3) and out.dtype == np.uint8 and np.all(out == 77)
    out, _ = _apply({"Resize": {"size": 5}}, np.full((4, 6, 2), 0.25, np.float32))
    assert out.shape == (5, 5, 2) and out.dtype == np.float32 and np.allclose(out, 0.25)


def test_center_crop_is_the_middle():
    image = _ramp()
    out, _ = _apply({"CenterCrop": {"size": [2, 2]}}, image)
    np.testing.assert_array_equal(out, image[1:3, 2:4])
    with pytest.raises(DataError, match="larger than the image"):
        _apply({"CenterCrop": {"size": 9}}, image)


def test_to_tensor_normalize_transpose_cast_rescale():
    image = np.full((2, 4, 3), 255, np.uint8)
    chw, _ = _apply({"ToTensor": {}}, image)
    assert chw.shape == (3, 2, 4) and chw.dtype == np.float32 and np.all(chw == 1.0)
    norm, _ = _apply({"ToTensor": {}, "Normalize": {"mean": [0.5, 0.0, 1.0], "std": [0.5, 1.0, 2.0]}}, image)
    np.testing.assert_allclose(norm[:, 0, 0], [1.0, 1.0, 0.0])
    hwc, _ = _apply({"Rescale": {}, "Normalize": {"mean": [0.5, 0.0, 1.0], "std": [0.5, 1.0, 2.0]}}, image)
    np.testing.assert_allclose(hwc[0, 0], [1.0, 1.0, 0.0])
    moved, _ = _apply({"Transpose": {"perm": [2, 0, 1]}, "Cast": {"dtype": "float16"}}, _ramp())
    assert moved.shape == (3, 4, 6) and moved.dtype == np.float16 and moved[1, 0, 0] == 1


def test_random_transforms_are_seeded():
    image = _ramp(8, 8)
    a, _ = _apply({"RandomResizedCrop": {"size": 4}, "RandomHorizontalFlip": {}}, image, seed=5)
    b, _ = _apply({"RandomResizedCrop": {"size": 4}, "RandomHorizontalFlip": {}}, image, seed=5)
    assert a.shape == (4, 4, 3)
    np.testing.assert_array_equal(a, b)
    flipped, _ = _apply({"RandomHorizontalFlip": {"p": 1.0}}, image)
    np.testing.assert_array_equal(flipped, image[:, ::-1])


def test_imagenet_preprocessing_on_a_constant_image():
    image = np.full((300, 400, 3), 100, np.uint8)
    out, _ = _apply({"ResizeCropImagenet": {"height": 224, "width": 224, "mean_value": [10, 20, 30]}}, image)
    assert out.shape == (224, 224, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], [90, 80, 70])
    out, _ = _apply(
        {"BilinearImagenet": {"height": 32, "width": 32, "mean_value": [0.5, 0.5, 0.5], "scale": 2.0}},
        np.full((50, 60, 3), 255, np.uint8),
    )
    assert out.shape == (32, 32, 3)
    np.testing.assert_allclose(out, 1.0, atol=1e-6)


def test_label_shift():
    _, label = _apply({"LabelShift": {"label_shift": 1}}, _ramp(), label=np.array([0, 4]))
    np.testing.assert_array_equal(label, [1, 5])


def test_unknown_transform_gets_a_suggestion_and_framework_ones_a_package():
    with pytest.raises(
        DataError, match=r"transform.Reszie: unknown transform 'Reszie'; did you mean 'Resize'\?"
    ):
        build_transforms({"Reszie": {"size": 2}}, "transform")
    with pytest.raises(DataError, match="ParseDecodeImagenet.*pip install lpot-tensorflow"):
        build_transforms({"ParseDecodeImagenet": {}}, "transform")
    with pytest.raises(DataError, match=r"transform.Resize: bad parameters"):
        build_transforms({"Resize": {"sise": 2}}, "transform")
