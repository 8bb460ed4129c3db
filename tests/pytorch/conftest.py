from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the shared conformance suite
sys.path.insert(0, str(Path(__file__).resolve().parent))  # models.py


@pytest.fixture(scope="session")
def digits():
    from models import DigitsNet, digits_arrays, train

    x_train, y_train, x_val, y_val = digits_arrays()
    model = train(DigitsNet(), x_train, y_train)
    return model, (x_train, y_train, x_val, y_val)
