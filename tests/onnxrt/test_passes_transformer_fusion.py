"""ORT's transformer fusions as a pass: what fired, same outputs, safe on non-BERT graphs."""

from __future__ import annotations

import tempfile

import numpy as np
import onnx
import pytest
from onnxruntime.quantization import quantize_dynamic
from passes_graphs import conv_chain, encoder_inputs, run, tiny_encoder

from lpot.errors import ConfigError
from lpot_onnxrt.passes import BertShape, detect_bert_shape, fuse_transformer


def test_heads_and_width_are_read_from_the_graph():
    assert detect_bert_shape(tiny_encoder(hidden=16, heads=4)) == BertShape(num_heads=4, hidden_size=16)
    assert detect_bert_shape(tiny_encoder(hidden=24, heads=3)) == BertShape(num_heads=3, hidden_size=24)
    assert detect_bert_shape(conv_chain()) is None


@pytest.mark.parametrize("opt_level", [0, 1], ids=["fusions-only", "ort-basic-first"])
def test_fusions_fire_and_outputs_match(opt_level):
    model = tiny_encoder()
    before = model.SerializeToString()
    result = fuse_transformer(model, opt_level=opt_level)
    assert result.applied and result.skipped is None
    assert result.fused.get("Attention", 0) == 1
    assert result.fused.get("SkipLayerNormalization", 0) == 2
    assert result.fused.get("BiasGelu", 0) == 1
    ops = [n.op_type for n in result.model.graph.node]
    assert "Erf" not in ops and ops.count("LayerNormalization") == 1  # the input LN has no residual
    x = encoder_inputs(outlier=1.0)
    np.testing.assert_allclose(run(result.model, x), run(model, x), atol=1e-4)
    assert model.SerializeToString() == before  # ORT's optimizer edits in place: the pass must not


def test_fused_graph_carries_types_so_dynamic_int8_applies():
    fused = fuse_transformer(tiny_encoder()).model
    with tempfile.TemporaryDirectory() as tmp:
        onnx.save(fused, f"{tmp}/f.onnx")
        quantize_dynamic(f"{tmp}/f.onnx", f"{tmp}/q.onnx", per_channel=True)
        quantized = onnx.load(f"{tmp}/q.onnx")
    ops = [n.op_type for n in quantized.graph.node]
    assert ops.count("QAttention") == 1 and ops.count("MatMulInteger") == 3  # out-proj, FFN x2
    x = encoder_inputs(outlier=1.0)
    reference, got = run(fused, x), run(quantized, x)
    assert np.abs(got - reference).mean() < 0.25 * np.abs(reference).mean()  # a broken graph: ~1


def test_non_transformer_graph_is_returned_unchanged_with_the_reason():
    model = conv_chain()
    result = fuse_transformer(model)
    assert not result.applied and result.model is model
    assert "no BERT-class attention" in result.skipped


def test_bad_options_are_refused_precisely():
    with pytest.raises(ConfigError, match="opt_level=3"):
        fuse_transformer(tiny_encoder(), opt_level=3)
    with pytest.raises(ConfigError, match="divisible"):
        fuse_transformer(tiny_encoder(), num_heads=5)
