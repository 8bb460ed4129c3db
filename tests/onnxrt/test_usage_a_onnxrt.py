"""Usage (a) on ONNX Runtime: an ImageFolder of generated PNGs, tuned and benchmarked from YAML only."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest
from PIL import Image


def _lpot(*args):
    return subprocess.run(
        [sys.executable, "-m", "lpot.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits_data):
    """The demo model and its validation digits written as 32x32 grayscale PNGs, one folder per class."""
    root = tmp_path_factory.mktemp("usage_a")
    model, (x_train, y_train, x_val, y_val) = digits_data
    onnx.save(model, root / "digits.onnx")
    for split, x, y, n in (("calib", x_train, y_train, 60), ("val", x_val, y_val, 200)):
        for i in range(n):
            folder = root / split / f"class{y[i]}"
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.round(x[i, 0] * 255).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root


def _config(root, transform="ToTensor: {}"):
    loader = """
      batch_size: {batch}
      dataset:
        ImageFolder: {{root: {path}, mode: L}}
      transform:
        {transform}"""
    return f"""
version: 1.0
model:
  name: digits
  framework: onnxrt_qlinearops
quantization:
  approach: post_training_static_quant
  calibration:
    sampling_size: 50
    dataloader:{loader.format(batch=10, path=root / "calib", transform=transform)}
evaluation:
  accuracy:
    metric:
      topk: 1
    dataloader:{loader.format(batch=50, path=root / "val", transform=transform)}
  performance:
    warmup: 2
    iteration: 10
    configs:
      cores_per_instance: 1
      num_of_instance: 2
    dataloader:
      batch_size: 1
      dataset:
        dummy: {{shape: [4, 1, 32, 32], low: 0, high: 1}}
tuning:
  accuracy_criterion:
    relative: 0.01
  exit_policy:
    timeout: 0
  random_seed: 9527
  workspace:
    path: {root / "ws"}
"""


def test_tune_from_yaml_only(files):
    # ImageFolder labels are class indices in sorted folder order: class0..class9 keep their digit
    conf = files / "conf.yaml"
    conf.write_text(_config(files))
    out = _lpot(
        "tune", str(conf), "--model", str(files / "digits.onnx"), "--quiet", "--output", str(files / "out")
    )
    assert out.returncode == 0, out.stderr
    assert "status: met" in out.stdout
    accuracy = float(out.stdout.split("FP32 ")[1].split()[0])
    assert accuracy > 0.9  # the PNG round trip keeps the model accurate: the data really flows
    tuned = onnx.load(files / "out" / "model.onnx")
    assert any(n.op_type == "QLinearConv" for n in tuned.graph.node)


def test_benchmark_from_yaml_only(files):
    conf = files / "conf.yaml"
    conf.write_text(_config(files))
    out = _lpot("benchmark", str(conf), "--model", str(files / "digits.onnx"))
    assert out.returncode == 0, out.stderr
    row = next(
        r for r in (line.split() for line in out.stdout.splitlines()) if r[:1] == ["model"] and r[1].isdigit()
    )
    assert row[1:4] == ["2", "1", "1"]  # instances, cores per instance, batch from the dummy dataloader


def test_transform_output_that_does_not_fit_the_model_names_both_shapes(files):
    conf = files / "bad.yaml"
    conf.write_text(_config(files, transform="Resize: {size: 16}\n        ToTensor: {}"))
    out = _lpot("tune", str(conf), "--model", str(files / "digits.onnx"), "--quiet")
    assert out.returncode == 2
    assert (
        "input 'image' expects shape ['batch', 1, 32, 32]" in out.stderr
        and "got a batch of shape [50, 1, 16, 16]" in out.stderr
    )
