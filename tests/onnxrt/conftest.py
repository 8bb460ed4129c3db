from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the shared conformance suite


@pytest.fixture(scope="session")
def digits_data():
    from lpot_onnxrt.demo import build_digits_model

    return build_digits_model(seed=0)
