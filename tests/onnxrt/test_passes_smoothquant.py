"""SmoothQuant: FP32 function unchanged, activation outliers moved into weights, folds where free."""

from __future__ import annotations

import numpy as np
import pytest
from passes_graphs import encoder_inputs, fixed_range_qdq, run, tiny_encoder

from lpot.errors import ConfigError
from lpot_onnxrt.passes import activation_maxima, search_alpha, smooth
from lpot_onnxrt.passes.smoothquant import find_groups, output_error


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder()


@pytest.fixture(scope="module")
def data():
    return encoder_inputs()


def test_groups_know_which_activations_feed_only_matmuls(encoder):
    kinds = sorted((len(g.matmuls), g.exclusive) for g in find_groups(encoder))
    # Q/K/V share the input LN's output, which the residual Add reads too; FFN1 likewise; the
    # out-projection (after probs @ V) and FFN2 (after GELU) read theirs alone
    assert kinds == [(1, False), (1, True), (1, True), (3, False)]


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.8])
def test_fp32_outputs_unchanged_and_activation_max_reduced(encoder, data, alpha):
    maxima = activation_maxima(encoder, data)
    result = smooth(encoder, maxima, alpha)
    np.testing.assert_allclose(run(result.model, data), run(encoder, data), atol=1e-4, rtol=1e-4)
    assert result.folds == {"inserted": 2, "matmul": 1, "mul": 1}
    smoothed = activation_maxima(result.model, data)
    # the tensors the MatMuls now read (the inserted Mul's output, or the folded tensor itself)
    before = max(m.max() / np.median(m) for m in maxima.values())
    after = max(m.max() / np.median(m) for m in smoothed.values())
    assert after < before


def test_without_insert_mul_only_free_folds_happen(encoder, data):
    result = smooth(encoder, activation_maxima(encoder, data), 0.5, insert_mul=False)
    assert "inserted" not in result.folds and len(result.skipped) == 2
    assert not any(n.op_type == "Mul" and n.name.endswith("SmoothMul") for n in result.model.graph.node)
    np.testing.assert_allclose(run(result.model, data), run(encoder, data), atol=1e-4, rtol=1e-4)


def test_alpha_search_beats_plain_static_int8(encoder, data):
    quantize = fixed_range_qdq(
        encoder, data, recalibrate=True, extra={"OpTypesToExcludeOutputQuantization": ["MatMul"]}
    )
    plain = output_error(run_batches(encoder, data), run_batches(quantize(encoder), data))
    search = search_alpha(encoder, data, quantize, alphas=(0.5, 0.75))
    assert set(search.errors) == {0.5, 0.75}
    assert search.errors[search.alpha] == min(search.errors.values())
    assert search.errors[search.alpha] < plain


def run_batches(model, data):
    return [run(model, [x]) for x in data]


def test_alpha_out_of_range_is_refused(encoder, data):
    with pytest.raises(ConfigError, match="alpha=1.5"):
        smooth(encoder, activation_maxima(encoder, data), 1.5)
