"""The demo's first minutes: the model ships as package data, the first line comes before any
framework loads, and a missing or altered copy is rebuilt rather than tuned."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from importlib import resources

import onnx
import pytest

from lpot_onnxrt import demo
from lpot_onnxrt.sessions import make_session

SHIPPED = resources.files("lpot_onnxrt") / "demo_data"


def test_the_model_ships_small_with_its_record():
    data = (SHIPPED / "digits_cnn.onnx").read_bytes()
    info = demo.shipped_info()
    assert info is not None and info["seed"] == 0
    assert len(data) == info["bytes"] < 2_000_000
    assert hashlib.sha256(data).hexdigest() == info["sha256"]
    assert demo.shipped_model(0) == data


def test_the_regenerated_data_scores_as_when_the_model_was_built():
    """The data is not shipped but rebuilt from scikit-learn's digits: the recorded FP32 accuracy
    holds only if it is the same data (another scikit-learn or scipy changing it would show here)."""
    model, (x_train, _, x_val, y_val) = demo.digits_model(0)
    assert x_train.shape[1:] == (1, 32, 32) and len(y_val) == demo.shipped_info()["validation_images"]
    session = make_session(model)
    accuracy = float((session.run(None, {demo.INPUT: x_val})[0].argmax(1) == y_val).mean())
    assert accuracy == pytest.approx(demo.shipped_info()["fp32_accuracy"], abs=1e-9)


@pytest.mark.parametrize("damage", ["missing", "altered", "other-seed"])
def test_a_copy_that_is_not_the_recorded_one_is_not_used(tmp_path, damage):
    folder = tmp_path / "demo_data"
    shutil.copytree(SHIPPED, folder)
    if damage == "missing":
        (folder / "digits_cnn.onnx").unlink()
    elif damage == "altered":
        with open(folder / "digits_cnn.onnx", "ab") as f:
            f.write(b"\0")
    else:
        info = json.loads((folder / "digits_cnn.json").read_text())
        (folder / "digits_cnn.json").write_text(json.dumps({**info, "seed": 1}))
    assert demo.shipped_model(0, folder) is None
    assert demo.shipped_model(0, SHIPPED) is not None


def test_the_first_line_is_said_before_any_framework_loads(tmp_path):
    code = textwrap.dedent(
        """
        import sys
        from lpot.demo import load_demo
        heavy = ("numpy", "onnx", "onnxruntime", "sklearn", "scipy")
        name, found = load_demo("digits")
        print(found.headline)
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    headline, loaded = out.stdout.strip().splitlines()
    assert headline == "tuning a conv net on scikit-learn's digits with ONNX Runtime"
    assert loaded == "[]"


def test_rebuilding_makes_the_shipped_model_again():
    """``--rebuild`` (and a missing file) builds from the seed: the same graph, equally accurate."""
    said: list[str] = []
    built, (_, _, x_val, y_val) = demo.digits_model(0, rebuild=True, say=said.append)
    assert len(said) == 1 and "as asked (--rebuild)" in said[0]
    shipped = onnx.load_from_string(demo.shipped_model(0))
    assert [n.op_type for n in built.graph.node] == [n.op_type for n in shipped.graph.node]
    assert {i.name: list(i.dims) for i in built.graph.initializer} == {
        i.name: list(i.dims) for i in shipped.graph.initializer
    }
    session = make_session(built)
    accuracy = float((session.run(None, {demo.INPUT: x_val})[0].argmax(1) == y_val).mean())
    assert accuracy >= demo.shipped_info()["fp32_accuracy"] - 0.02
