"""An LPOT 1.x ONNX image-classification script on lpot: YAML-only dataloaders (ImageFolder of PNGs),
``Quantization(conf)`` on the model path, ``q_model.save``, then ``Benchmark(conf)('performance')``.

The data and the 1.x YAML are those of the usage (a) tests (``test_usage_a_onnxrt``); here a 1.x
Python script drives them instead of the CLI.
"""

from __future__ import annotations

import onnx
import pytest
from test_usage_a_onnxrt import _config, files  # noqa: F401 (the fixture)

from lpot.experimental import Benchmark, Quantization, common


def test_yaml_only_quantization_save_and_benchmark(files, capsys):  # noqa: F811
    conf = files / "lpot1_conf.yaml"
    conf.write_text(_config(files))
    quantizer = Quantization(str(conf))
    quantizer.model = common.Model(str(files / "digits.onnx"))
    q_model = quantizer()
    assert q_model.framework == "onnxrt" and q_model.result.met
    assert isinstance(q_model.model, onnx.ModelProto)
    assert any(node.op_type == "QLinearConv" for node in q_model.model.graph.node)
    saved = q_model.save(files / "lpot1_out")
    assert saved.name.endswith(".onnx") and onnx.load(str(saved)).graph.node

    evaluator = Benchmark(str(conf))
    evaluator.model = common.Model(str(saved))
    acc, batch_size, latencies = evaluator("performance")["performance"]
    # two instances of one core each (evaluation.performance.configs): one median latency each
    assert acc is None and batch_size == 1 and len(latencies) == 2 and all(0 < t < 1 for t in latencies)
    acc, batch_size, latencies = evaluator("accuracy")["accuracy"]
    assert acc == pytest.approx(q_model.result.accuracy) and batch_size == 50 and len(latencies) == 4
    out = capsys.readouterr().out
    assert "performance mode benchmark result:\nBatch size = 1\nLatency:" in out
    assert f"accuracy mode benchmark result:\nBatch size = 50\nAccuracy is {acc:.4f}" in out
