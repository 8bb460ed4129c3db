"""ONNX Runtime specifics: dynamic INT8, weight granularity, ISA defaults, errors, multi-instance."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import lpot
from lpot import plugins
from lpot.engine import CalibrationSpec
from lpot.errors import DataError
from lpot.isa import CpuFeatures
from lpot.space import build_space
from lpot_onnxrt.capability import build_capability


def _mlp(seed: int = 0) -> onnx.ModelProto:
    """A 2-layer MatMul MLP (the shape dynamic quantization is for: transformer-style linears)."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.2, (64, 128)).astype(np.float32)
    w2 = rng.normal(0, 0.2, (128, 10)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
            helper.make_node("Relu", ["h"], ["a"], name="act"),
            helper.make_node("MatMul", ["a", "w2"], ["y"], name="fc2"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def test_dynamic_quantization_through_tune(tmp_path):
    model = _mlp()
    backend = plugins.backend_by_name("onnxrt")
    x = np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32)
    fp32 = backend.predict(backend.load(model), x)

    def agreement(m):
        return float((backend.predict(m, x).argmax(1) == fp32.argmax(1)).mean())

    cfg = {
        "model": {"framework": "onnxrt_integerops"},
        "tuning": {"accuracy_criterion": {"relative": 0.05}, "workspace": {"path": str(tmp_path)}},
    }
    result = lpot.tune(model, eval_func=agreement, config=cfg, progress=False)
    ops = {n.op_type for n in result.model.graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops
    assert result.calibration_passes == 0  # dynamic: nothing to calibrate
    assert result.recipe.approach == "post_training_dynamic_quant"
    weights = {i.name: numpy_helper.to_array(i) for i in result.model.graph.initializer}
    assert weights["w1_quantized"].dtype in (np.int8, np.uint8) and weights["w1_quantized"].shape == (64, 128)
    assert weights["w2_quantized"].dtype in (np.int8, np.uint8)
    assert "w1" not in weights and "w2" not in weights  # no FP32 copy left


def _scales(model: onnx.ModelProto) -> list[np.ndarray]:
    return [numpy_helper.to_array(i) for i in model.graph.initializer if i.name.endswith("weight_scale")]


def test_per_tensor_and_per_channel_weight_scales(digits_data):
    backend = plugins.backend_by_name("onnxrt")
    model = backend.load(digits_data[0])
    x = digits_data[1][0][:32]
    stats = {
        "minmax": backend.calibrate(model, lpot.ArrayLoader(x, None, 16), CalibrationSpec(sampling_size=32))
    }
    space = build_space(backend.capability(model), approach="post_training_static_quant")
    recipe = space.default_recipe()
    per_channel = backend.quantize(model, recipe, stats, space.tensors)
    per_tensor = backend.quantize(
        model,
        replace(recipe, options={**recipe.options, "weight.granularity": "per_tensor"}),
        stats,
        space.tensors,
    )
    assert any(s.size > 1 for s in _scales(per_channel))
    assert _scales(per_tensor) and all(s.size == 1 for s in _scales(per_tensor))


def test_isa_shapes_the_defaults():
    model = _mlp()
    vnni = build_capability(model, CpuFeatures(avx2=True, avx512=True, vnni=True))
    avx2 = build_capability(model, CpuFeatures(avx2=True))
    assert vnni.options["reduce_range"][0] is False  # VNNI: no saturation, full range first
    assert avx2.options["reduce_range"][0] is True  # AVX2 u8s8 may saturate: 7-bit weights first
    assert (
        avx2.options["activation.dtype"][0] == vnni.options["activation.dtype"][0] == "uint8"
    )  # U8S8 everywhere


def test_wrong_input_shape_is_a_data_error_naming_the_input(digits_data):
    backend = plugins.backend_by_name("onnxrt")
    model = backend.load(digits_data[0])
    bad = lpot.ArrayLoader(np.zeros((8, 3, 32, 32), np.float32), None, batch_size=4)
    with pytest.raises(DataError, match=r"input 'image' expects shape \['batch', 1, 32, 32\]"):
        backend.calibrate(model, bad, CalibrationSpec(sampling_size=8))


def test_empty_calibration_data_is_a_data_error(digits_data):
    backend = plugins.backend_by_name("onnxrt")
    with pytest.raises(DataError, match="no samples"):
        backend.calibrate(backend.load(digits_data[0]), [], CalibrationSpec(sampling_size=8))


def test_benchmark_with_two_pinned_instances(digits_data):
    backend = plugins.backend_by_name("onnxrt")
    model = backend.load(digits_data[0])
    loader = lpot.ArrayLoader(digits_data[1][2][:8], None, batch_size=1)
    result = backend.benchmark(model, loader, num_instances=2, cores_per_instance=1, warmup=2, iterations=10)
    assert result.num_instances == 2 and len(result.per_instance) == 2
    assert result.cores_per_instance == 1 and result.batch_size == 1
    assert all(v > 0 for v in result.per_instance) and result.throughput > 0


def test_demo_model_is_accurate(digits_data):
    backend = plugins.backend_by_name("onnxrt")
    model, (_, _, x_val, y_val) = digits_data
    assert float((backend.predict(model, x_val).argmax(1) == y_val).mean()) >= 0.9


@pytest.mark.parametrize("algorithm", ["kl", "percentile"])
def test_histogram_calibration_with_a_short_last_batch(digits_data, algorithm):
    backend = plugins.backend_by_name("onnxrt")
    model = backend.load(digits_data[0])
    loader = lpot.ArrayLoader(digits_data[1][0][:50], None, batch_size=32)  # batches of 32 and 18
    stats = backend.calibrate(model, loader, CalibrationSpec(algorithm=algorithm, sampling_size=50))
    assert stats.samples_seen == 50 and stats.ranges
    minmax = backend.calibrate(model, loader, CalibrationSpec(algorithm="minmax", sampling_size=50))
    narrower = [stats.ranges[k][1] <= minmax.ranges[k][1] + 1e-6 for k in minmax.ranges if k in stats.ranges]
    assert all(narrower)  # histogram methods clip outliers, never widen the observed range
