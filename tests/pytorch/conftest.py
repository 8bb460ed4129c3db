from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the shared conformance suite
sys.path.insert(0, str(Path(__file__).resolve().parent))  # models.py


# Another seed gives other weights, as another CPU's kernels do: LPOT_TEST_SEED=3 nox -s pytorch
# rehearses a machine whose numerics differ from this one's.
SEED = int(os.environ.get("LPOT_TEST_SEED", "0"))


@pytest.fixture(scope="session")
def digits():
    import torch

    from models import DigitsNet, digits_arrays, train

    x_train, y_train, x_val, y_val = digits_arrays()
    torch.manual_seed(SEED)
    model = train(DigitsNet(), x_train, y_train, seed=SEED)
    return model, (x_train, y_train, x_val, y_val)
