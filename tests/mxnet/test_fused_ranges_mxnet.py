"""Issue 17 row 13: a conv that a ReLU6 clip follows, moved out of INT8, still finds its ranges.

Calibration used to run only the FP32 graph oneDNN fused (conv+BN+clip one ``sg_mkldnn_conv_bn_act``
node, one range). A conv moved to BF16 is rewritten by AMP on the unfused graph; a clip AMP left in
FP32 then stood alone after fusion and the quantization pass asked for ``<clip>_output``, a name
the calibration never saw ("no calibrated range ... calibrate this model again"); a BF16 conv+BN
whose residual add stays FP32 asks for the tensor before the add, which the fused FP32 graph never
computes apart. BF16 is in the space only where the CPU runs it fast (issue 17's machine), but any
CPU builds the graph, so these tests build it everywhere and run it where oneDNN has BF16 kernels.
"""

from __future__ import annotations

import dataclasses
import itertools

import mxnet as mx
import numpy as np
import pytest
from mxnet.gluon import nn

import lpot
from lpot import plugins
from lpot.engine import CalibrationSpec
from lpot.isa import cpu_features
from lpot.recipe import OpConfig, TensorConfig
from lpot.space import build_space
from lpot_mxnet import bf16 as bf16_module
from lpot_mxnet.bf16 import bf16_layers
from lpot_mxnet.graph import int8_layers, nodes

OLD_FOLLOWERS = ("BatchNorm", "Activation", "LeakyReLU")  # before the fix: clip left in FP32


class ClipNet(nn.HybridBlock):
    """conv_a -> BN -> clip(0, 6) -> conv_b -> BN -> clip(0, 6) -> conv_c -> BN (+ residual) -> dense:
    two convs a ReLU6 follows, one whose BN output meets a residual add (EfficientNet's shapes)."""

    def __init__(self) -> None:
        super().__init__(prefix="clipnet_")
        with self.name_scope():
            self.conv_a = nn.Conv2D(8, 3, padding=1, in_channels=3, use_bias=False)
            self.bn_a = nn.BatchNorm(in_channels=8)
            self.conv_b = nn.Conv2D(8, 3, padding=1, in_channels=8, use_bias=False)
            self.bn_b = nn.BatchNorm(in_channels=8)
            self.conv_c = nn.Conv2D(8, 1, in_channels=8, use_bias=False)
            self.bn_c = nn.BatchNorm(in_channels=8)
            self.fc = nn.Dense(4, in_units=8 * 8 * 8)

    def hybrid_forward(self, F, x):  # noqa: ANN001 - Gluon's signature
        y = F.clip(self.bn_a(self.conv_a(x)), 0, 6)
        z = F.clip(self.bn_b(self.conv_b(y)), 0, 6)
        return self.fc(self.bn_c(self.conv_c(z)) + z)


@pytest.fixture(scope="module")
def setup():
    mx.random.seed(0)
    net = ClipNet()
    net.initialize(mx.init.Xavier())
    net.hybridize()
    x = np.random.default_rng(0).normal(size=(8, 3, 8, 8)).astype(np.float32)
    net(mx.nd.array(x))
    backend = plugins.backend_by_name("mxnet")
    loader = lpot.ArrayLoader(x, None, batch_size=4)
    stats = {
        a: backend.calibrate(net, loader, CalibrationSpec(algorithm=a, sampling_size=8))
        for a in ("minmax", "kl")
    }
    space = build_space(backend.capability(net), approach="post_training_static_quant")
    return net, backend, stats, space, x


def _op(space, name: str):
    return next(op for op in space.default_recipe().ops if op.name == name)


def _bf16_first_conv(setup):
    net, backend, stats, space, _ = setup
    recipe = space.default_recipe().with_ops(
        {_op(space, "clipnet_conv0_fwd"): OpConfig(activation=TensorConfig(dtype="bf16"))}
    )
    return backend.quantize(net, recipe, stats, space.tensors)


def test_calibration_ranges_every_fp32_tensor_and_every_fused_output(setup):
    _, _, stats, _, _ = setup
    ranges = stats["minmax"].ranges
    for op in ("conv0_fwd", "batchnorm0_fwd", "clip0", "conv2_fwd", "batchnorm2_fwd", "_plus0"):
        assert f"clipnet_{op}_output" in ranges, op  # the unfused graph's tensors
    assert ranges["sg_mkldnn_conv_bn_act_0_output"] == ranges["clipnet_clip0_output"]
    assert (
        ranges["clipnet_conv0_fwd_output"][0] < 0 <= ranges["clipnet_clip0_output"][0]
    )  # before / after ReLU6


def test_bf16_conv_keeps_its_clip_fused_and_finds_the_range(setup):
    q = _bf16_first_conv(setup)
    symbol = q._cached_graph[1]
    assert bf16_layers(symbol) == {"clipnet_conv0_fwd"}
    assert {"clipnet_conv1_fwd", "clipnet_dense0_fwd"} <= int8_layers(symbol)
    assert not any(n["op"] == "clip" for n in nodes(symbol))  # the clip runs inside the BF16 conv
    if cpu_features().avx512:  # oneDNN's BF16 kernels
        _, _, _, _, x = setup
        assert np.isfinite(q(mx.nd.array(x)).asnumpy()).all()


def test_clip_standing_alone_takes_the_fused_nodes_range(setup, monkeypatch):
    """With the clip left in FP32 (the fusion issue 17's run got), its output is asked for by name."""
    _, _, stats, _, _ = setup
    monkeypatch.setattr(bf16_module, "FOLLOWERS", OLD_FOLLOWERS)
    q = _bf16_first_conv(setup)
    clips = [n for n in nodes(q._cached_graph[1]) if n["op"] == "clip"]
    assert [n["name"] for n in clips] == ["clipnet_clip0"]
    (quantize_node,) = [
        n
        for n in nodes(q._cached_graph[1])
        if n["name"].startswith("clipnet_clip0") and n["op"] == "_contrib_quantize_v2"
    ]
    low, high = stats["minmax"].ranges["sg_mkldnn_conv_bn_act_0_output"]
    assert float(quantize_node["attrs"]["min_calib_range"]) == pytest.approx(low, abs=1e-6)
    assert float(quantize_node["attrs"]["max_calib_range"]) == pytest.approx(high, rel=1e-6)


def test_tail_outputs_name_the_op_computing_each_fused_output(setup):
    from lpot_mxnet.graph import tail_outputs

    net, _, _, _, _ = setup
    tails = tail_outputs(net._cached_graph[1].get_backend_symbol("MKLDNN_QUANTIZE"))
    assert tails["sg_mkldnn_conv_bn_act_0_output"] == "clipnet_clip0_output"
    assert tails["sg_mkldnn_conv_bn_add_2_output"] == "clipnet__plus0_output"


def test_bf16_conv_before_a_residual_add_finds_the_range_before_the_add(setup):
    net, backend, stats, space, x = setup
    recipe = space.default_recipe().with_ops(
        {_op(space, "clipnet_conv2_fwd"): OpConfig(activation=TensorConfig(dtype="bf16"))}
    )
    q = backend.quantize(net, recipe, stats, space.tensors)
    symbol = q._cached_graph[1]
    assert bf16_layers(symbol) == {"clipnet_conv2_fwd"}
    assert "clipnet_conv1_fwd" in int8_layers(symbol)
    if cpu_features().avx512:
        assert np.isfinite(q(mx.nd.array(x)).asnumpy()).all()


@pytest.mark.parametrize("followers", [OLD_FOLLOWERS, bf16_module.FOLLOWERS], ids=["clip-fp32", "clip-bf16"])
def test_every_per_op_choice_builds(setup, monkeypatch, followers):
    """Each of INT8 (minmax / kl), BF16 and FP32 per conv (the dense stays INT8), with both activation
    dtypes and weight granularities: no combination asks for a range the calibration did not record."""
    net, backend, stats, space, _ = setup
    monkeypatch.setattr(bf16_module, "FOLLOWERS", followers)
    base = space.default_recipe()
    ops = [op for op in base.ops if op.op_type == "Convolution"]
    kl = {
        op: dataclasses.replace(c, activation=dataclasses.replace(c.activation, algorithm="kl"))
        for op, c in base.ops.items()
    }
    fp32, bf16 = (
        OpConfig(activation=TensorConfig(dtype="fp32")),
        OpConfig(activation=TensorConfig(dtype="bf16")),
    )
    built = 0
    for combo in itertools.product(("int8", "kl", "fp32", "bf16"), repeat=len(ops)):
        chosen = {
            op: {"kl": kl[op], "fp32": fp32, "bf16": bf16}[c] for op, c in zip(ops, combo) if c != "int8"
        }
        for dtype, granularity in (("uint8", "per_tensor"), ("int8", "per_channel")):
            options = {**base.options, "activation.dtype": dtype, "weight.granularity": granularity}
            backend.quantize(
                net, dataclasses.replace(base.with_ops(chosen), options=options), stats, space.tensors
            )
            built += 1
    assert len(ops) == 3 and built == 4 ** len(ops) * 2
