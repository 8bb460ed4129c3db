"""An LPOT 1.x ONNX image-classification script on lpot: YAML-only dataloaders (ImageFolder of PNGs),
``Quantization(conf)`` on the model path, ``q_model.save``, then ``Benchmark(conf)('performance')``."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from PIL import Image

from lpot.experimental import Benchmark, Quantization, common


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits_data):
    root = tmp_path_factory.mktemp("lpot1_onnx")
    model, (x_train, y_train, x_val, y_val) = digits_data
    onnx.save(model, root / "digits.onnx")
    for split, x, y, n in (("calib", x_train, y_train, 40), ("val", x_val, y_val, 150)):
        for i in range(n):
            folder = root / split / f"class{y[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(x[i, 0] * 255).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    (root / "conf.yaml").write_text(
        f"""\
version: 1.0
model:
  name: digits
  framework: onnxrt_qlinearops
quantization:
  approach: post_training_static_quant
  calibration:
    sampling_size: 40
    dataloader:
      batch_size: 10
      dataset:
        ImageFolder: {{root: {root / "calib"}, mode: L}}
      transform:
        ToTensor: {{}}
evaluation:
  accuracy:
    metric:
      topk: 1
    dataloader:
      batch_size: 50
      dataset:
        ImageFolder: {{root: {root / "val"}, mode: L}}
      transform:
        ToTensor: {{}}
  performance:
    warmup: 2
    iteration: 20
    configs:
      cores_per_instance: 1
      num_of_instance: 1
    dataloader:
      batch_size: 4
      dataset:
        dummy: {{shape: [8, 1, 32, 32], low: 0, high: 1}}
tuning:
  accuracy_criterion:
    relative: 0.01
  exit_policy:
    timeout: 0
  random_seed: 9527
  workspace:
    path: {root / "ws"}
"""
    )
    return root


def test_yaml_only_quantization_save_and_benchmark(files, capsys):
    conf = str(files / "conf.yaml")
    quantizer = Quantization(conf)
    quantizer.model = common.Model(str(files / "digits.onnx"))
    q_model = quantizer()
    assert q_model.framework == "onnxrt" and q_model.result.met
    assert isinstance(q_model.model, onnx.ModelProto)
    assert any(node.op_type == "QLinearConv" for node in q_model.model.graph.node)
    saved = q_model.save(files / "out")
    assert saved.name.endswith(".onnx") and onnx.load(str(saved)).graph.node

    evaluator = Benchmark(conf)
    evaluator.model = common.Model(str(saved))
    acc, batch_size, latencies = evaluator("performance")["performance"]
    assert acc is None and batch_size == 4 and len(latencies) == 1 and 0 < latencies[0] < 1
    acc, batch_size, latencies = evaluator("accuracy")["accuracy"]
    assert acc == pytest.approx(q_model.result.accuracy) and batch_size == 50 and len(latencies) == 3
    out = capsys.readouterr().out
    assert "performance mode benchmark result:\nBatch size = 4\nLatency:" in out
    assert f"accuracy mode benchmark result:\nBatch size = 50\nAccuracy is {acc:.4f}" in out
