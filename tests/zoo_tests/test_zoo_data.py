"""The data: real photographs, real sentences, digits, as re-iterable lpot dataloaders."""

from __future__ import annotations

import numpy as np
import pytest
from lpot_zoo.batches import Batches, batched
from lpot_zoo.digits import digits_loader
from lpot_zoo.photos import PHOTOS, photo_crops, photo_loader, photographs
from lpot_zoo.sentences import english_sentences


def test_photographs_are_colour_photos():
    photos = photographs()
    assert tuple(photos) == PHOTOS
    for name, image in photos.items():
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert min(image.shape[:2]) >= 256, name
        assert image.std() > 20, name  # a photograph, not a flat test card


def test_crops_differ_and_are_deterministic():
    crops = photo_crops(14, size=64)
    assert crops.shape == (14, 64, 64, 3) and crops.dtype == np.float32
    assert 0.0 <= crops.min() and crops.max() <= 1.0
    # the second round of the same photo is another crop, mirrored
    assert not np.allclose(crops[0], crops[7])
    np.testing.assert_array_equal(crops, photo_crops(14, size=64))


@pytest.mark.parametrize("layout,shape", [("nchw", (8, 3, 224, 224)), ("nhwc", (8, 224, 224, 3))])
def test_photo_loader_layout_and_normalization(layout, shape):
    loader = photo_loader(16, batch_size=8, layout=layout)
    assert isinstance(loader, Batches) and len(loader) == 2
    assert iter(loader) is not loader  # re-iterable, as tuning needs
    x, labels = loader[0]
    assert x.shape == shape and x.dtype == np.float32 and labels is None
    assert -2.2 < x.min() < -1.0 and 1.5 < x.max() < 2.7  # ImageNet-normalized, not [0, 1]


def test_sentences_are_english_prose_of_varying_length():
    sentences = english_sentences()
    assert len(sentences) >= 100
    assert len(set(sentences)) == len(sentences)
    lengths = [len(s.split()) for s in sentences]
    assert min(lengths) >= 2 and max(lengths) >= 40
    assert "Beautiful is better than ugly." in sentences  # the Zen of Python
    assert not any(s.startswith((":", "..", "=")) or "``" in s for s in sentences)


def test_digits_loader_has_real_labels():
    loader = digits_loader(32)
    xs = np.concatenate([x for x, _ in loader])
    ys = np.concatenate([y for _, y in loader])
    assert xs.shape == (597, 64) and set(np.unique(ys)) == set(range(10))
    images = digits_loader(16, count=16, images=32)[0][0]
    assert images.shape == (16, 1, 32, 32)


def test_batches_relabel_and_take():
    loader = batched(np.arange(10, dtype=np.float32)[:, None], None, 4)
    assert [len(x) for x, _ in loader] == [4, 4, 2]
    labelled = loader.labelled(lambda x: x[:, 0] * 2)
    np.testing.assert_array_equal(labelled[1][1], [8, 10, 12, 14])
    assert len(labelled.take(1)) == 1
