from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "2"
)  # keep TensorFlow's C++ start-up chatter out of test output
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the shared conformance suite
sys.path.insert(0, str(Path(__file__).resolve().parent))  # models.py, probes.py
SEED = int(os.environ.get("LPOT_TEST_SEED", "0"))  # another seed rehearses other numerics


@pytest.fixture(scope="session")
def digits():
    from models import digits_arrays, digits_cnn, train

    x_train, y_train, x_val, y_val = digits_arrays()
    model = train(digits_cnn(seed=SEED), x_train, y_train)
    return model, (x_train, y_train, x_val, y_val)
