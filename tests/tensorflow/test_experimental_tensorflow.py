"""LPOT 1.x's ModelConversion on lpot: a Keras model trained with quantization-aware training
(``lpot_tensorflow.QuantizationAwareCallback``) converted to an INT8 TFLite model."""

from __future__ import annotations

import pytest

import lpot_tensorflow
from lpot.errors import ConfigError, FeatureNotAvailableError, QuantizationError
from lpot.experimental import Benchmark, ModelConversion, Pruning, common
from lpot_tensorflow.runtime import TFLiteModel
from models import accuracy, digits_cnn, train
from probes import int8_ops

ALL = {"conv1", "conv2", "conv3", "fc1", "fc2"}


def test_model_conversion_of_a_keras_qat_model(tmp_path, digits, capsys):
    _, (x, y, xv, yv) = digits
    model = train(digits_cnn(), x, y, epochs=2)
    train(model, x, y, epochs=1, lr=1e-3, callbacks=[lpot_tensorflow.QuantizationAwareCallback(x[:128])])
    qat_accuracy = accuracy(model, xv, yv)

    conversion = ModelConversion()
    conversion.source = "QAT"
    conversion.destination = "default"
    conversion.model = common.Model(model)
    conversion.eval_func = lambda m: accuracy(m, xv, yv)
    q_model = conversion()
    assert isinstance(q_model.model, TFLiteModel) and int8_ops(q_model.model) == ALL
    assert accuracy(q_model.model, xv, yv) >= qat_accuracy - 0.01
    assert q_model.save(tmp_path / "out").suffix == ".tflite"

    evaluator = Benchmark()
    evaluator.model = q_model
    evaluator.b_dataloader = common.DataLoader(_Pairs(xv[:64], yv[:64]), batch_size=8)
    _, batch_size, latencies = evaluator("performance")["performance"]
    assert batch_size == 8 and latencies[0] > 0
    assert "Throughput:" in capsys.readouterr().out


class _Pairs:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def test_model_conversion_refuses_what_it_cannot_convert(tmp_path, digits):
    keras_model = digits[0]
    with pytest.raises(ConfigError, match="only 'qat' is supported"):
        ModelConversion().source = "fp32"
    conversion = ModelConversion()
    conversion.model = common.Model(keras_model)  # never trained with the QAT callback
    with pytest.raises(QuantizationError, match="was not prepared for QAT"):
        conversion()
    keras_model.export(str(tmp_path / "saved"), verbose=False)
    conversion.model = common.Model(str(tmp_path / "saved"))
    with pytest.raises(FeatureNotAvailableError, match="tensorflow_model_optimization QAT graphs"):
        conversion()
    prune = Pruning({"pruning": {"target_sparsity": 0.5}})
    prune.model = common.Model(keras_model)
    with pytest.raises(FeatureNotAvailableError, match="PruningCallback"):
        prune()
