"""End to end: lpot.tune on a Gluon CNN with MXNet, both usages, resume, and MXNet-specific errors."""

from __future__ import annotations

import json
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

import lpot
from lpot import plugins
from lpot.engine import CalibrationSpec
from lpot.errors import ModelError
from lpot_mxnet.graph import int8_layers


@pytest.fixture(scope="module")
def digits(digits_data):
    net, (x_train, y_train, x_val, y_val) = digits_data
    calib = lpot.ArrayLoader(x_train[:100], y_train[:100], batch_size=20)
    evals = lpot.ArrayLoader(x_val, y_val, batch_size=100)
    return net, calib, evals, (x_val, y_val)


def _accuracy(block, x: np.ndarray, y: np.ndarray) -> float:
    return float((block(mx.nd.array(x)).asnumpy().argmax(1) == y).mean())


def _graph(block) -> dict:
    return json.loads(block._cached_graph[1].tojson())


def test_eval_func_usage(tmp_path, digits):
    net, calib, _, (x_val, y_val) = digits
    calls = []

    def eval_func(block):
        assert isinstance(block, gluon.HybridBlock)
        calls.append(1)
        return _accuracy(block, x_val, y_val)

    result = lpot.tune(
        net,
        q_dataloader=calib,
        eval_func=eval_func,
        config={"tuning": {"workspace": {"path": str(tmp_path / "ws")}}},
        progress=False,
    )
    assert result.status == "met" and result.backend_name == "mxnet"
    assert isinstance(result.model, gluon.SymbolBlock)
    assert {"conv0_fwd", "dense0_fwd"} <= int8_layers(result.model._cached_graph[1])
    assert result.accuracy >= result.goal and result.baseline_accuracy > 0.9
    assert result.accuracy == pytest.approx(_accuracy(result.model, x_val, y_val))
    assert len(calls) == len(result.trials) + 1
    saved = result.save(tmp_path / "out")
    assert saved.name.endswith("-symbol.json") and (tmp_path / "out" / "recipe.json").exists()
    loaded = plugins.backend_by_name("mxnet").read(saved)
    np.testing.assert_array_equal(
        loaded(mx.nd.array(x_val[:50])).asnumpy(), result.model(mx.nd.array(x_val[:50])).asnumpy()
    )


def test_metric_usage_with_yaml_kl_int8_and_model_files(tmp_path, digits):
    net, calib, evals, _ = digits
    path = plugins.backend_by_name("mxnet").save(net, tmp_path / "fp32")  # MXNet export files of the FP32 net
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        "model: {name: digits, framework: mxnet}\n"
        "quantization:\n"
        "  calibration: {sampling_size: 60}\n"
        "  model_wise: {activation: {algorithm: [kl], dtype: [int8]}}\n"
        "evaluation: {accuracy: {metric: {topk: 1}}}\n"
        f"tuning: {{accuracy_criterion: {{relative: 0.01}}, workspace: {{path: {tmp_path / 'ws'}}}}}\n"
    )
    result = lpot.tune(str(path), q_dataloader=calib, eval_dataloader=evals, config=str(conf), progress=False)
    assert result.status == "met"
    assert result.recipe.calib_sampling_size == 60
    # the last FC's own range is never used (the output leaves in float): it has no algorithm to choose
    assert {c.activation.algorithm for c in result.recipe.ops.values() if c.is_quantized} - {None} == {"kl"}
    quantize = [n for n in _graph(result.model)["nodes"] if n["op"] == "_contrib_quantize_v2"]
    assert quantize and all(n["attrs"]["out_type"] == "int8" for n in quantize)


class _Interrupting:
    """Accuracy, minus 0.5 while ``conv1_fwd`` is INT8 (forces a fallback search); Ctrl-C after n calls."""

    def __init__(self, data, interrupt_after=None):
        self.data, self.interrupt_after, self.calls = data, interrupt_after, 0

    def __call__(self, block) -> float:
        self.calls += 1
        if self.interrupt_after is not None and self.calls > self.interrupt_after:
            raise KeyboardInterrupt
        x, y = self.data
        penalty = 0.5 if "conv1_fwd" in int8_layers(block._cached_graph[1]) else 0.0
        return _accuracy(block, x, y) - penalty


def test_interrupted_run_resumes_without_redoing_trials_or_calibration(tmp_path, digits):
    net, calib, _, val = digits
    config = {"tuning": {"workspace": {"path": str(tmp_path / "ws")}}}
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C during the 3rd trial (call 1 is the baseline)
        lpot.tune(net, q_dataloader=calib, eval_func=_Interrupting(val, 3), config=config, progress=False)
    evaluate = _Interrupting(val)
    resumed = lpot.tune(
        net, q_dataloader=calib, eval_func=evaluate, config=config, resume=True, progress=False
    )
    replayed = [t.replayed for t in resumed.trials]
    assert replayed[:2] == [True, True] and not any(replayed[2:])
    assert evaluate.calls == len(resumed.trials) - 2  # no baseline, no finished trial again
    assert resumed.new_calibration_passes == 0  # statistics come from the workspace
    assert resumed.status == "met"
    layers = int8_layers(resumed.model._cached_graph[1])
    assert "conv1_fwd" not in layers and "conv0_fwd" in layers


# --- MXNet-specific errors and properties ----------------------------------------------------------


class _Eager(gluon.Block):
    def __init__(self):
        super().__init__()
        with self.name_scope():
            self.dense = gluon.nn.Dense(4)

    def forward(self, x):
        return self.dense(x)


class _NotSymbolic(gluon.HybridBlock):
    def hybrid_forward(self, F, x):
        return F.array(x.asnumpy() * 2)  # NDArray-only code: cannot be traced into a graph


def test_plain_block_is_refused_with_its_name():
    block = _Eager()
    with pytest.raises(ModelError, match=r"_Eager.*not a HybridBlock"):
        plugins.backend_by_name("mxnet").load(block)


def test_non_hybridizable_block_is_named():
    block = _NotSymbolic(prefix="oddball_")
    with pytest.raises(ModelError, match=r"oddball.*cannot be hybridized"):
        plugins.backend_by_name("mxnet").capability(block)


def test_missing_model_files(tmp_path):
    backend = plugins.backend_by_name("mxnet")
    assert not backend.accepts(tmp_path / "nope")
    with pytest.raises(ModelError, match="nope"):
        backend.load(tmp_path / "nope-symbol.json")


def test_capability_uses_fp32_layer_names_and_pooling_can_fall_back(digits):
    net, calib, evals, _ = digits
    backend = plugins.backend_by_name("mxnet")
    cap = backend.capability(net)
    names = [op.name for op in cap.opwise]
    assert names[0] == "conv0_fwd" and "pool0_fwd" in names and names[-1] == "dense1_fwd"
    assert cap.opwise[next(op for op in cap.opwise if op.name == "conv0_fwd")].weight is not None
    from conformance.suite import default_recipe, space_of

    stats = {"minmax": backend.calibrate(net, calib, CalibrationSpec(algorithm="minmax", sampling_size=40))}
    recipe = default_recipe(backend, net)
    pool = next(op for op in recipe.ops if op.name == "pool0_fwd")
    q = backend.quantize(net, recipe.fallback([pool]), stats, space_of(backend, net).tensors)
    layers = int8_layers(q._cached_graph[1])
    assert "pool0_fwd" not in layers and "conv0_fwd" in layers
    assert any(n["op"] == "Pooling" and n["name"] == "pool0_fwd" for n in _graph(q)["nodes"])


def test_importing_the_package_does_not_import_mxnet():
    code = "import sys, lpot_mxnet, lpot_mxnet.engine; b = lpot_mxnet.engine.MXNetEngine(); "
    code += "b.accepts(object()); print('mxnet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_benchmark_with_two_pinned_instances(digits_data):
    net, (x, _, _, _) = digits_data
    result = plugins.backend_by_name("mxnet").benchmark(
        net, lpot.ArrayLoader(x[:32], None, 8), num_instances=2, cores_per_instance=1, warmup=1, iterations=5
    )
    assert result.num_instances == 2 and len(result.per_instance) == 2 and result.throughput > 0
