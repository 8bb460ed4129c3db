"""Cross-layer equalization: same FP32 function, channel ranges equalized, Clip(0,6) handled."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from passes_graphs import conv_chain, images, run

from lpot.errors import ConfigError
from lpot_onnxrt.passes import equalize, fold_batchnorm
from lpot_onnxrt.passes.equalization import find_pairs


def _weights(model):
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def _depthwise_spread(model) -> float:
    """max/min per-channel weight range of the depthwise conv."""
    inits = _weights(model)
    dw = next(
        n
        for n in model.graph.node
        if n.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in n.attribute)
    )
    ranges = np.abs(inits[dw.input[1]]).max(axis=(1, 2, 3))
    return float(ranges.max() / ranges.min())


def test_relu_chain_keeps_its_function_and_equalizes_ranges():
    model = conv_chain(clip=False)
    result = equalize(model)
    assert [(p.first, p.second) for p in result.pairs] == [("Conv_1", "Conv_3"), ("Conv_3", "Conv_5")]
    np.testing.assert_allclose(run(result.model, images()), run(model, images()), rtol=1e-4, atol=1e-4)
    assert _depthwise_spread(result.model) < _depthwise_spread(model) / 5
    assert result.range_ratio_after < result.range_ratio_before


def test_exact_clip_policy_keeps_relu6_function_with_per_channel_bounds():
    model = conv_chain(clip=True)
    result = equalize(model, clip="exact")
    assert all(p.bounded for p in result.pairs)
    np.testing.assert_allclose(run(result.model, images()), run(model, images()), rtol=1e-4, atol=1e-4)
    ops = [n.op_type for n in result.model.graph.node]
    assert ops.count("Min") == 2 and "Clip" not in ops
    assert _depthwise_spread(result.model) < _depthwise_spread(model) / 5


def test_relu_policy_drops_the_bound_and_skip_leaves_clip_chains():
    model = conv_chain(clip=True)
    relu = equalize(model, clip="relu")
    assert [n.op_type for n in relu.model.graph.node].count("Relu") == 2
    skipped = equalize(model, clip="skip")
    assert skipped.pairs == ()
    np.testing.assert_array_equal(run(skipped.model, images()), run(model, images()))


def test_batchnorm_is_folded_first_so_the_chain_qualifies():
    model = conv_chain(clip=False)
    conv = model.graph.node[0]
    channels = 8
    rng = np.random.default_rng(3)
    stats = {
        "bn_scale": rng.uniform(0.5, 2, channels),
        "bn_bias": rng.normal(0, 0.1, channels),
        "bn_mean": rng.normal(0, 0.1, channels),
        "bn_var": rng.uniform(0.5, 2, channels),
    }
    model.graph.initializer.extend(numpy_helper.from_array(v.astype(np.float32), k) for k, v in stats.items())
    bn = helper.make_node("BatchNormalization", ["stem_out", *stats], [conv.output[0]], name="bn")
    conv.output[0] = "stem_out"
    model.graph.node.insert(1, bn)
    onnx.checker.check_model(model)
    assert len(find_pairs(model)) == 1  # Conv -> BN -> Relu is no chain; depthwise -> project is
    folded = fold_batchnorm(model)
    assert "BatchNormalization" not in {n.op_type for n in folded.graph.node}
    np.testing.assert_allclose(run(folded, images()), run(model, images()), rtol=1e-4, atol=1e-4)
    assert len(equalize(model).pairs) == 2


def test_unknown_clip_policy_is_refused():
    with pytest.raises(ConfigError, match="'clamp'"):
        equalize(conv_chain(), clip="clamp")
