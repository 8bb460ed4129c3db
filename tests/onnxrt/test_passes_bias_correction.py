"""Empirical bias correction: the INT8 model's per-channel output mean moves back to FP32's."""

from __future__ import annotations

import numpy as np
from passes_graphs import conv_chain, fixed_range_qdq, images, run

from lpot_onnxrt.passes import correct_bias
from lpot_onnxrt.passes.bias_correction import correctable_layers, measure_shift


def _mean_error(fp32, quantized, data):
    """|mean over samples of (FP32 - INT8)| per logit, averaged: the bias the pass targets."""
    return float(np.abs((run(fp32, data) - run(quantized, data)).mean(axis=0)).mean())


def test_correction_reduces_the_int8_output_mean_error():
    model = conv_chain(clip=False)
    data = images(batches=8)
    quantize = fixed_range_qdq(model, data)  # per-tensor weights: the biased case
    plain = quantize(model)
    result = correct_bias(model, quantize, data)
    assert result.layers == 4 and len(result.mean_shift) == 4  # stem, depthwise, project, classifier
    assert _mean_error(model, result.quantized, data) < 0.5 * _mean_error(model, plain, data)
    held_out = images(batches=4, seed=9)
    assert _mean_error(model, result.quantized, held_out) < _mean_error(model, plain, held_out)


def test_shift_is_read_before_the_activation_ort_folds_away():
    model = conv_chain(clip=True)
    data = images()
    quantized = fixed_range_qdq(model, data, op_types=["Conv", "Clip", "Gemm"])(model)
    assert "Clip" not in {n.op_type for n in quantized.graph.node}  # QDQ clips through its range
    layers = correctable_layers(model)
    assert [(layer.low, layer.high) for layer in layers[:2]] == [(0.0, 6.0), (0.0, 6.0)]
    shifts = measure_shift(model, quantized, data, layers)
    assert set(shifts) == {layer.output for layer in layers}
    assert all(np.isfinite(s).all() for s in shifts.values())
