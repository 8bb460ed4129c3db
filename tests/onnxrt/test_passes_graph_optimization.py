"""FP32 graph optimization baked into a model; BF16 only where it would run natively."""

from __future__ import annotations

import numpy as np
import pytest
from passes_graphs import conv_chain, encoder_inputs, images, run, tiny_encoder

from lpot.errors import ConfigError
from lpot.isa import CpuFeatures
from lpot_onnxrt.passes import bf16_refusal, cast_to_bf16, convert_to_bf16, optimize_graph

AVX2_ONLY = CpuFeatures(avx2=True)
AMX = CpuFeatures(avx2=True, avx512=True, vnni=True, avx512_bf16=True, amx=True)


@pytest.mark.parametrize("level", ["basic", "extended", "all"])
def test_optimized_conv_graph_loads_fresh_and_matches(level):
    model = conv_chain()
    result = optimize_graph(model, level=level)
    assert result.fusion is not None and not result.fusion.applied  # no transformer here
    np.testing.assert_allclose(run(result.model, images()), run(model, images()), rtol=1e-4, atol=1e-4)


def test_transformer_graph_gets_fusions_and_session_optimizations():
    model = tiny_encoder()
    result = optimize_graph(model, level="extended")
    assert result.fusion.fused["Attention"] == 1
    ops = {n.op_type for n in result.model.graph.node}
    assert "Attention" in ops and "Softmax" not in ops
    x = encoder_inputs(outlier=1.0)
    np.testing.assert_allclose(run(result.model, x), run(model, x), rtol=1e-4, atol=1e-4)


def test_unknown_level_is_refused():
    with pytest.raises(ConfigError, match="'fastest'"):
        optimize_graph(conv_chain(), level="fastest")


def test_bf16_refused_where_emulated_with_the_reason():
    with pytest.raises(ConfigError, match="no native BF16.*emulated"):
        convert_to_bf16(tiny_encoder(), features=AVX2_ONLY, providers=["CPUExecutionProvider"])


def test_bf16_refused_without_a_provider_that_runs_it_even_on_amx():
    reason = bf16_refusal(AMX, ["CPUExecutionProvider"])
    assert reason is not None and "DnnlExecutionProvider" in reason
    assert bf16_refusal(AMX, ["DnnlExecutionProvider", "CPUExecutionProvider"]) is None


def test_stock_cpu_provider_really_has_no_bf16_matmul():
    """The premise of the refusal, checked against the installed ONNX Runtime."""
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as OrtNotImplemented

    from lpot_onnxrt.sessions import make_session

    converted = cast_to_bf16(tiny_encoder())
    with pytest.raises(OrtNotImplemented):
        make_session(converted)


def test_bf16_conversion_is_numerically_bf16_close():
    """Checked with ONNX's reference evaluator, since no provider here runs BF16 MatMul."""
    from onnx.reference import ReferenceEvaluator

    model = conv_chain(clip=False)
    converted = cast_to_bf16(model, keep_fp32={"Gemm_8"})
    ops = [n.op_type for n in converted.graph.node]
    assert ops.count("Cast") == 2 * 3 and ops.count("Conv") == 3  # in and out of each conv
    x = images(batches=1)[0]
    reference = ReferenceEvaluator(model).run(None, {"image": x})[0]
    got = ReferenceEvaluator(converted).run(None, {"image": x})[0]
    np.testing.assert_allclose(got, reference, rtol=0.05, atol=0.05 * np.abs(reference).max())
    assert not np.array_equal(got, reference)  # it did compute in BF16
