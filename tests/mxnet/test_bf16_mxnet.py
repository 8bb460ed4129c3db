"""BF16 with MXNet: offered only where it pays, mixed INT8/BF16/FP32 graphs, tuning, save/load."""

from __future__ import annotations

import json

import mxnet as mx
import numpy as np
import pytest

import lpot
from conformance.suite import space_of
from lpot import plugins
from lpot.engine import CalibrationSpec
from lpot.errors import QuantizationError
from lpot.isa import CpuFeatures, cpu_features
from lpot.recipe import OpConfig, TensorConfig
from lpot.space import build_space
from lpot_mxnet.amx import bf16_is_fast, bf16_speedup
from lpot_mxnet.bf16 import bf16_layers, full_nodes
from lpot_mxnet.capability import bf16_offered, build_capability_from_layers
from lpot_mxnet.graph import int8_layers

BF16_OP = OpConfig(activation=TensorConfig(dtype="bf16"))
needs_bf16_kernels = pytest.mark.skipif(
    not cpu_features().avx512, reason="MXNet's oneDNN has no BF16 kernels below AVX-512"
)
needs_fast_bf16 = pytest.mark.skipif(
    not bf16_offered(), reason="BF16 is not faster than FP32 through MXNet on this CPU: not in the space"
)


@pytest.fixture(scope="module")
def setup(digits_data):
    net, (x_train, _, x_val, y_val) = digits_data
    backend = plugins.backend_by_name("mxnet")
    calib = lpot.ArrayLoader(x_train[:100], None, batch_size=50)
    stats = {"minmax": backend.calibrate(net, calib, CalibrationSpec(algorithm="minmax", sampling_size=100))}
    return net, backend, stats, (x_val, y_val)


def _dtypes(cap) -> dict[str, tuple[str, ...]]:
    return {op.name: c.activation.dtype for op, c in cap.opwise.items()}


def test_no_bf16_without_native_bf16(setup):
    net, backend, _, _ = setup
    assert not bf16_offered(CpuFeatures(avx2=True))  # the probe is not even consulted
    cap = build_capability_from_layers(
        list(backend.capability(net).opwise), bf16=bf16_offered(CpuFeatures(avx2=True))
    )
    assert all("bf16" not in d for d in _dtypes(cap).values())


def test_bf16_offered_on_this_cpu_exactly_where_it_is_native_and_faster(setup):
    net, backend, _, _ = setup
    expected = cpu_features().fast_bf16 and bf16_is_fast()
    dtypes = _dtypes(backend.capability(net))
    for name in ("conv0_fwd", "conv1_fwd", "dense0_fwd", "dense1_fwd"):
        assert ("bf16" in dtypes[name]) == expected, (name, dtypes[name], bf16_speedup())
    # not AMP ops (Gluon numbers unnamed blocks per process: another test's net may own flatten0)
    plain = [name for name in dtypes if name.startswith(("pool", "flatten"))]
    assert plain and not any("bf16" in dtypes[name] for name in plain)


@needs_bf16_kernels
def test_recipe_with_one_bf16_op_builds_int8_bf16_graph(setup):
    net, backend, stats, (x_val, y_val) = setup
    space = build_space(backend.capability(net), approach="post_training_static_quant")
    base = space.default_recipe()
    conv1 = next(op for op in base.ops if op.name == "conv1_fwd")
    q = backend.quantize(net, base.with_ops({conv1: BF16_OP}), stats, space_of(backend, net).tensors)
    symbol = q._cached_graph[1]
    assert bf16_layers(symbol) == {"conv1_fwd"}
    assert {"conv0_fwd", "pool0_fwd", "pool1_fwd", "dense0_fwd", "dense1_fwd"} <= int8_layers(symbol)
    assert "conv1_fwd" not in int8_layers(symbol)
    params = {k: p.data() for k, p in q.collect_params().items()}
    assert str(params["conv1_weight"].dtype) == str(np.dtype([("bfloat16", "<u2")]))
    assert params["conv0_weight"].dtype == np.float32 and params["dense0_weight_quantize"].dtype == np.int8
    casts = [n for n in full_nodes(symbol) if n["op"] == "amp_cast"]
    assert {n["attrs"]["dtype"] for n in casts} == {"bfloat16", "float32"}
    out = backend.predict(q, x_val)
    ref = backend.predict(net, x_val)
    assert out.dtype == np.float32
    assert (out.argmax(1) == ref.argmax(1)).mean() > 0.97
    # every BF16/INT8 boundary is calibrated from the cached FP32 ranges: no recalibration needed
    assert backend.inspect(q, lpot.ArrayLoader(x_val[:10], None, batch_size=10), list(base.ops)).keys() >= {
        "conv1_fwd"
    }


@needs_bf16_kernels
def test_bf16_and_fp32_only_recipe_needs_no_statistics(setup):
    net, backend, _, (x_val, _) = setup
    base = build_space(backend.capability(net), approach="post_training_static_quant").default_recipe()
    recipe = base.with_ops(
        {op: BF16_OP for op in base.ops if op.op_type in ("Convolution", "FullyConnected")}
    )
    recipe = recipe.fallback([op for op in base.ops if op.op_type not in ("Convolution", "FullyConnected")])
    q = backend.quantize(net, recipe, {}, space_of(backend, net).tensors)
    assert bf16_layers(q._cached_graph[1]) == {"conv0_fwd", "conv1_fwd", "dense0_fwd", "dense1_fwd"}
    assert not int8_layers(q._cached_graph[1])
    np.testing.assert_allclose(backend.predict(q, x_val[:50]), backend.predict(net, x_val[:50]), atol=0.5)


def test_bf16_on_an_op_amp_cannot_convert_is_refused(setup):
    net, backend, stats, _ = setup
    base = build_space(backend.capability(net), approach="post_training_static_quant").default_recipe()
    pool = next(op for op in base.ops if op.name == "pool0_fwd")
    with pytest.raises(QuantizationError, match=r"pool0_fwd.*Pooling.*bf16"):
        backend.quantize(net, base.with_ops({pool: BF16_OP}), stats, space_of(backend, net).tensors)


@needs_bf16_kernels
def test_mixed_model_save_load_round_trip(tmp_path, setup):
    net, backend, stats, (x_val, _) = setup
    base = build_space(backend.capability(net), approach="post_training_static_quant").default_recipe()
    ops = {op.name: op for op in base.ops}
    recipe = base.with_ops({ops["conv0_fwd"]: BF16_OP, ops["dense1_fwd"]: BF16_OP}).fallback(
        [ops["pool1_fwd"]]
    )
    q = backend.quantize(net, recipe, stats, space_of(backend, net).tensors)
    path = backend.save(q, tmp_path / "mixed")
    text = json.loads(path.read_text())
    assert any(n["op"] == "amp_cast" for n in text["nodes"])  # written as it runs (export would drop them)
    loaded = backend.read(path)
    assert bf16_layers(loaded._cached_graph[1]) == {"conv0_fwd", "dense1_fwd"}
    assert {"conv1_fwd", "dense0_fwd"} <= int8_layers(loaded._cached_graph[1])
    np.testing.assert_array_equal(backend.predict(loaded, x_val[:40]), backend.predict(q, x_val[:40]))
    again = mx.gluon.SymbolBlock.imports(
        str(path), ["data"], str(path).replace("-symbol.json", "-0000.params")
    )
    np.testing.assert_array_equal(again(mx.nd.array(x_val[:40])).asnumpy(), backend.predict(q, x_val[:40]))
    assert backend.model_size(q) < backend.model_size(net)


@needs_fast_bf16
def test_tuning_moves_a_penalised_int8_op_to_bf16(tmp_path, setup):
    net, _, _, (x_val, y_val) = setup

    def eval_func(block) -> float:
        acc = float((block(mx.nd.array(x_val)).asnumpy().argmax(1) == y_val).mean())
        return acc - (0.5 if "conv1_fwd" in int8_layers(block._cached_graph[1]) else 0.0)

    result = lpot.tune(
        net,
        q_dataloader=lpot.ArrayLoader(x_val[:100], y_val[:100], batch_size=50),
        eval_func=eval_func,
        config={"tuning": {"workspace": {"path": str(tmp_path / "ws")}}},
        progress=False,
    )
    assert result.status == "met"
    dtypes = {op.name: c.activation.dtype for op, c in result.recipe.ops.items()}
    assert dtypes["conv1_fwd"] == "bf16"
    assert bf16_layers(result.model._cached_graph[1]) == {"conv1_fwd"}
    assert {"conv0_fwd", "dense0_fwd", "dense1_fwd"} <= int8_layers(result.model._cached_graph[1])
