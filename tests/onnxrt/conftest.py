from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the shared conformance suite


SEED = int(os.environ.get("LPOT_TEST_SEED", "0"))  # another seed rehearses other numerics


@pytest.fixture(scope="session")
def digits_data():
    from lpot_onnxrt.demo import digits_model

    return digits_model(seed=SEED)  # the shipped copy for seed 0; other seeds build (two minutes)
