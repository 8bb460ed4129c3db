"""Tests of lpot-zoo itself: each framework session runs the files for what it has installed."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def efficientnet():
    from lpot_zoo.efficientnet import load_efficientnet_lite0

    return load_efficientnet_lite0()


@pytest.fixture(scope="session")
def photo_reference(efficientnet):
    """16 crops and the torch model's logits for them: what every rebuild and export must match."""
    from lpot_zoo.photos import photo_array
    from lpot_zoo.torch_run import predictor

    x = photo_array(16)
    return x, predictor(efficientnet)(x)
