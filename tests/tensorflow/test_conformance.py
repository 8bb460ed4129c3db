"""TensorFlow/Keras (TFLite INT8) plugged into the shared backend conformance suite (the SavedModel
input reuses DigitsConformance in test_saved_model_tensorflow.py)."""

from __future__ import annotations

import pytest

import lpot
from conformance.suite import BackendConformance, LowPrecisionProbe, TuningConformance
from lpot import plugins
from probes import int8_ops, weight_bytes


class DigitsConformance(BackendConformance, TuningConformance):
    """The suite on the digits data; a subclass adds the ``model`` fixture (Keras, SavedModel)."""

    @pytest.fixture
    def backend(self):
        return plugins.backend_by_name("tensorflow")

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


class TestTensorFlowConformance(DigitsConformance):
    @pytest.fixture
    def model(self, backend, digits):
        return backend.load(digits[0])
