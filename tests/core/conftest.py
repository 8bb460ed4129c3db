from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import toy_job  # noqa: E402


@pytest.fixture
def toy_model():
    return toy_job.make_model()


@pytest.fixture
def toy_loaders():
    return toy_job.loaders()


@pytest.fixture(autouse=True)
def _reset_calibration_counter():
    from lpot_toy.engine import ToyEngine

    ToyEngine.calibrate_calls = 0
    yield
