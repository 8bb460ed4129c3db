"""End to end: lpot.tune on a real ONNX model with ONNX Runtime, both usages, and bad inputs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import lpot
from lpot.errors import BackendNotFoundError, ModelError
from lpot_onnxrt.demo import digits_model


@pytest.fixture(scope="module")
def digits():
    model, (x_train, y_train, x_val, y_val) = digits_model(seed=0)
    calib = lpot.ArrayLoader(x_train[:100], y_train[:100], batch_size=20)
    evals = lpot.ArrayLoader(x_val, y_val, batch_size=100)
    return model, calib, evals, (x_val, y_val)


def _accuracy(model: onnx.ModelProto, x: np.ndarray, y: np.ndarray) -> float:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return float((sess.run(None, {sess.get_inputs()[0].name: x})[0].argmax(1) == y).mean())


def _int8_consumers(model: onnx.ModelProto) -> set[str]:
    """Names of Conv/Gemm/MatMul nodes that compute in INT8 (QOperator node or QDQ-wrapped)."""
    producers = {out: n for n in model.graph.node for out in n.output}
    names = set()
    for node in model.graph.node:
        if node.op_type in ("QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger"):
            names.add(node.name.removesuffix("_quant"))  # ORT's QOperator names nodes <op>_quant
        elif node.op_type in ("Conv", "Gemm", "MatMul"):
            src = producers.get(node.input[0])
            if src is not None and src.op_type == "DequantizeLinear":
                names.add(node.name)
    return names


def test_eval_func_usage(tmp_path, digits):
    model, calib, _, (x_val, y_val) = digits
    calls = []

    def eval_func(m):
        assert isinstance(m, onnx.ModelProto)
        calls.append(1)
        return _accuracy(m, x_val, y_val)

    result = lpot.tune(
        model,
        q_dataloader=calib,
        eval_func=eval_func,
        config={"tuning": {"workspace": {"path": str(tmp_path)}}},
        progress=False,
    )
    assert result.status == "met"
    assert isinstance(result.model, onnx.ModelProto)
    assert _int8_consumers(result.model), "no op computes in INT8"
    assert result.accuracy >= result.goal and result.baseline_accuracy > 0.9
    assert result.accuracy == pytest.approx(_accuracy(result.model, x_val, y_val))  # measured on the full set
    assert len(calls) == len(result.trials) + 1
    assert result.model.ByteSize() < 0.5 * model.ByteSize()


def test_metric_usage_with_yaml_and_model_path(tmp_path, digits):
    model, calib, evals, _ = digits
    path = tmp_path / "digits.onnx"
    onnx.save(model, path)
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        "model: {name: digits, framework: onnxrt_qlinearops}\n"
        "quantization: {calibration: {sampling_size: 60}}\n"
        "evaluation: {accuracy: {metric: {topk: 1}}}\n"
        f"tuning: {{accuracy_criterion: {{relative: 0.01}}, workspace: {{path: {tmp_path / 'ws'}}}}}\n"
    )
    result = lpot.tune(str(path), q_dataloader=calib, eval_dataloader=evals, config=str(conf), progress=False)
    assert result.status == "met"
    assert any(n.op_type == "QLinearConv" for n in result.model.graph.node)
    assert result.recipe.options["format"] == "qoperator"
    assert result.recipe.calib_sampling_size == 60
    saved = result.save(tmp_path / "out")
    assert saved.suffix == ".onnx" and (tmp_path / "out" / "recipe.json").exists()


def test_missing_model_file(tmp_path, digits):
    _, calib, _, _ = digits
    with pytest.raises(ModelError, match="nope.onnx"):
        lpot.tune(
            str(tmp_path / "nope.onnx"),
            q_dataloader=calib,
            eval_func=lambda m: 1.0,
            config={"tuning": {"workspace": {"path": str(tmp_path)}}},
        )


def test_non_onnx_file(tmp_path, digits):
    _, calib, _, _ = digits
    fake = tmp_path / "model.onnx"
    fake.write_text("this is not a protobuf")
    with pytest.raises(ModelError, match="model.onnx"):
        lpot.tune(
            str(fake),
            q_dataloader=calib,
            eval_func=lambda m: 1.0,
            config={"tuning": {"workspace": {"path": str(tmp_path)}}},
        )
    other = tmp_path / "weights.bin"
    other.write_bytes(b"\x00\x01")
    with pytest.raises(BackendNotFoundError, match="weights.bin.*packages named lpot-<framework>"):
        lpot.tune(
            str(other),
            q_dataloader=calib,
            eval_func=lambda m: 1.0,
            config={"tuning": {"workspace": {"path": str(tmp_path)}}},
        )


def test_unreachable_goal_ends_cleanly_with_best_found(tmp_path, digits):
    model, calib, _, (x_val, y_val) = digits

    def never(m):
        return _accuracy(m, x_val, y_val) - (0.5 if _int8_consumers(m) else 0.0)

    cfg = {
        "tuning": {
            "accuracy_criterion": {"absolute": 0.0},
            "exit_policy": {"max_trials": 4},
            "workspace": {"path": str(tmp_path)},
        }
    }
    result = lpot.tune(model, q_dataloader=calib, eval_func=never, config=cfg, progress=False)
    assert result.status == "budget_spent"
    assert result.model is not None and len(result.trials) == 4
    assert any("not met" in w for w in result.warnings)
