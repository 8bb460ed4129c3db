"""LPOT 1.x's ModelConversion on lpot: a Keras model trained with quantization-aware training
(``lpot_tensorflow.QuantizationAwareCallback``) converted to an INT8 TFLite model."""

from __future__ import annotations

import pytest

import lpot_tensorflow
from lpot.errors import ConfigError, FeatureNotAvailableError, QuantizationError
from lpot.experimental import Benchmark, ModelConversion, Pruning, common
from lpot_tensorflow.runtime import TFLiteModel
from models import accuracy, train
from probes import int8_ops

ALL = {"conv1", "conv2", "conv3", "fc1", "fc2"}


@pytest.fixture(scope="module")
def converted(digits):
    """A 1.x ModelConversion script on a copy of the trained digits CNN, fine-tuned one epoch with
    the QAT callback: (the QAT model's accuracy, the q_model conversion returned)."""
    from lpot_tensorflow.keras_int8 import clone

    model, (x, y, xv, yv) = digits
    work = clone(model)
    train(work, x, y, epochs=1, lr=1e-3, callbacks=[lpot_tensorflow.QuantizationAwareCallback(x[:128])])
    qat_accuracy = accuracy(work, xv, yv)

    conversion = ModelConversion()
    conversion.source = "QAT"
    conversion.destination = "default"
    conversion.model = common.Model(work)
    conversion.eval_func = lambda m: accuracy(m, xv, yv)
    return qat_accuracy, conversion()


def test_model_conversion_of_a_keras_qat_model(tmp_path, digits, converted, capsys):
    _, (_, _, xv, yv) = digits
    qat_accuracy, q_model = converted
    assert isinstance(q_model.model, TFLiteModel) and int8_ops(q_model.model) == ALL
    assert accuracy(q_model.model, xv, yv) >= qat_accuracy - 0.01
    saved = q_model.save(tmp_path / "out")
    assert saved.suffix == ".tflite"

    evaluator = Benchmark({"model": {"name": "digits", "framework": "tensorflow"}})
    evaluator.model = common.Model(str(saved))
    evaluator.b_dataloader = common.DataLoader(_Pairs(xv[:64], yv[:64]), batch_size=8)
    _, batch_size, latencies = evaluator("performance")["performance"]
    assert batch_size == 8 and latencies[0] > 0
    assert "Throughput:" in capsys.readouterr().out


def test_benchmark_of_the_converted_model_object(digits, converted):
    _, (_, _, xv, yv) = digits
    evaluator = Benchmark()
    evaluator.model = converted[1]
    evaluator.b_dataloader = common.DataLoader(_Pairs(xv[:16], yv[:16]), batch_size=8)
    evaluator("performance")


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


def test_tensorflow_itex_names_what_to_use_instead(tmp_path):
    from lpot.errors import FeatureNotAvailableError
    from lpot.experimental import Quantization

    conf = tmp_path / "conf.yaml"
    conf.write_text("model: {name: m, framework: tensorflow_itex}\n")
    with pytest.raises(
        FeatureNotAvailableError,
        match=r"conf\.yaml: model\.framework 'tensorflow_itex': .*use framework: tensorflow",
    ):
        Quantization(str(conf))
