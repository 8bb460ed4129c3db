"""PyTorch plugged into the shared backend conformance suite."""

from __future__ import annotations

import pytest

import lpot
from conformance.suite import BackendConformance, LowPrecisionProbe, TuningConformance
from lpot import plugins
from probes import int8_ops, weight_bytes


class TestPyTorchConformance(BackendConformance, TuningConformance):
    @pytest.fixture
    def backend(self):
        return plugins.backend_by_name("pytorch")

    @pytest.fixture
    def model(self, backend, digits):
        return backend.load(digits[0])

    @pytest.fixture
    def calib_loader(self, digits):
        x, y = digits[1][0], digits[1][1]
        return lpot.ArrayLoader(x[:64], y[:64], batch_size=16)

    @pytest.fixture
    def eval_loader(self, digits):
        x, y = digits[1][2], digits[1][3]
        return lpot.ArrayLoader(x[:200], y[:200], batch_size=50)

    @pytest.fixture
    def probe(self):
        return LowPrecisionProbe(int8_ops=int8_ops, weight_bytes=weight_bytes)
