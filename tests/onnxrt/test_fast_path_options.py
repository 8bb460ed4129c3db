"""Issue 18: the fast-path passes as recipe options of the ONNX Runtime backend, through the backend
contract (capability, calibration spec, quantize, prepare) and through ``lpot.tune``."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from passes_graphs import conv_chain, encoder_inputs, images, run, tiny_encoder

import lpot
from lpot import plugins
from lpot.engine import CalibrationSpec, Stats
from lpot.space import build_space

STATIC, DYNAMIC = "post_training_static_quant", "post_training_dynamic_quant"


@pytest.fixture(scope="module")
def backend():
    return plugins.backend_by_name("onnxrt")


@pytest.fixture(scope="module")
def encoder(backend):
    return backend.load(tiny_encoder())


@pytest.fixture(scope="module")
def convnet(backend):
    return backend.load(conv_chain(clip=False))


def _batches(inputs):
    return [(x, None) for x in inputs]


def _spec(**graph):
    return CalibrationSpec(sampling_size=64, graph=tuple(sorted(graph.items())))


def _build(backend, model, options, data, **kwargs):
    """The model of the default recipe with ``options`` changed, calibrated as the core would."""
    space = build_space(backend.capability(model, STATIC), approach=STATIC)
    recipe = space.default_recipe()
    recipe = replace(recipe, options={**recipe.options, **options})
    graph = {k: v for k, v in recipe.options.items() if k in space.calibrated_options}
    stats = {"minmax": backend.calibrate(model, data, _spec(**graph))}
    return backend.quantize(model, recipe, stats, space.tensors, **kwargs), stats


def test_options_are_offered_only_where_their_pass_applies(backend, encoder, convnet):
    text = backend.capability(encoder, STATIC)
    assert text.options["matmul.output"] == ("float", "int8")
    assert text.options["smoothquant.alpha"] == ("off", 0.5, 0.9)
    assert "equalization" not in text.options and "bias_correction" not in text.options
    assert text.calibrated_options == {"smoothquant.alpha"}
    conv = backend.capability(convnet, STATIC)
    assert conv.options["equalization"] == ("off", "exact")
    assert conv.options["bias_correction"] == (False, True)
    assert "smoothquant.alpha" not in conv.options
    assert conv.calibrated_options == {"equalization"}


def test_a_calibrated_option_gets_its_own_statistics_kept_as_plain_data(backend, encoder):
    data = _batches(encoder_inputs())
    plain = backend.calibrate(encoder, data, _spec())
    smoothed = backend.calibrate(encoder, data, _spec(**{"smoothquant.alpha": 0.9}))
    assert plain.spec.key() != smoothed.spec.key()
    assert "smoothquant_maxima" in smoothed.artifacts and not plain.artifacts
    # the smoothed graph has other activations: the smoothed LayerNorm outputs' ranges shrink
    shrunk = [t for t in plain.ranges if t in smoothed.ranges and smoothed.ranges[t] != plain.ranges[t]]
    assert shrunk
    again = Stats.from_dict(json.loads(json.dumps(smoothed.to_dict())), dict(smoothed.artifacts))
    assert again == smoothed and again.spec.graph == (("smoothquant.alpha", 0.9),)


def test_smoothquant_built_from_resumed_statistics_is_the_same_model(backend, encoder):
    data = _batches(encoder_inputs())
    space = build_space(backend.capability(encoder, STATIC), approach=STATIC)
    recipe = space.default_recipe()
    recipe = replace(recipe, options={**recipe.options, "smoothquant.alpha": 0.9})
    stats = backend.calibrate(encoder, data, _spec(**{"smoothquant.alpha": 0.9}))
    resumed = Stats.from_dict(json.loads(json.dumps(stats.to_dict())), dict(stats.artifacts))
    fresh = backend.quantize(encoder, recipe, {"minmax": stats}, space.tensors)
    replayed = backend.quantize(encoder, recipe, {"minmax": resumed}, space.tensors)
    assert backend.fingerprint(fresh) == backend.fingerprint(replayed)
    off, _ = _build(backend, encoder, {}, data)
    assert backend.fingerprint(off) != backend.fingerprint(fresh)


def test_smoothquant_lowers_the_int8_error_on_outlier_activations(backend, encoder):
    data = _batches(encoder_inputs(batches=24))  # fewer: ranges fitted to the few calibration tokens
    held_out = encoder_inputs(batches=3, seed=7)
    reference = run(encoder, held_out)

    def error(options):
        model, _ = _build(backend, encoder, options, data)
        return float(np.abs(run(model, held_out) - reference).mean())

    plain = error({})
    assert error({"smoothquant.alpha": 0.5}) < 0.85 * plain and error({"smoothquant.alpha": 0.9}) < plain


def test_float_matmul_outputs_are_left_unquantized(backend, encoder):
    data = _batches(encoder_inputs())

    def quantized_matmul_outputs(options):
        model, _ = _build(backend, encoder, options, data)
        consumers = {i: n.op_type for n in model.graph.node for i in n.input}
        matmuls = [n for n in model.graph.node if n.op_type == "MatMul"]
        assert matmuls, "the encoder's MatMuls must stay MatMuls in QDQ form"
        return sum(consumers.get(n.output[0]) == "QuantizeLinear" for n in matmuls)

    assert quantized_matmul_outputs({"matmul.output": "float"}) == 0
    assert quantized_matmul_outputs({"matmul.output": "int8"}) > 0


def test_bias_correction_moves_the_int8_output_mean_back(backend, convnet):
    data = _batches(images(batches=8))
    inputs = [x for x, _ in data]
    reference = run(convnet, inputs)

    def mean_error(model):
        return float(np.abs((run(model, inputs) - reference).mean(axis=0)).mean())

    options = {"weight.granularity": "per_tensor"}  # per-tensor weights: the biased case
    plain, _ = _build(backend, convnet, options, data)
    corrected, _ = _build(backend, convnet, {**options, "bias_correction": True}, data, calibration=data)
    assert backend.fingerprint(plain) != backend.fingerprint(corrected)
    assert mean_error(corrected) < mean_error(plain)


def test_equalization_builds_another_model_that_still_computes_the_same_function(backend, convnet):
    data = _batches(images())
    plain, _ = _build(backend, convnet, {}, data)
    equalized, stats = _build(backend, convnet, {"equalization": "exact"}, data)
    assert stats["minmax"].spec.graph == (("equalization", "exact"),)
    assert backend.fingerprint(plain) != backend.fingerprint(equalized)
    inputs = [x for x, _ in data]
    reference = run(convnet, inputs)
    scale = np.abs(reference).mean()
    assert np.abs(run(equalized, inputs) - reference).mean() < 0.2 * scale


def test_prepare_fuses_transformers_for_dynamic_int8_only(backend, encoder, convnet):
    fused = backend.prepare(encoder, DYNAMIC)
    ops = [n.op_type for n in fused.graph.node]
    assert "Attention" in ops and "SkipLayerNormalization" in ops
    assert any(p.key == "lpot.transformer_fusions" for p in fused.metadata_props)
    x = encoder_inputs(outlier=1.0)
    np.testing.assert_allclose(run(fused, x), run(encoder, x), atol=1e-4)
    assert backend.prepare(encoder, STATIC) is encoder
    assert backend.prepare(convnet, DYNAMIC) is convnet
    assert backend.prepare(fused, DYNAMIC) is fused  # once


def test_tune_tries_the_options_before_fallback_and_records_them(tmp_path, backend):
    inputs = encoder_inputs(batches=4)
    reference = run(backend.load(tiny_encoder()), inputs)

    def eval_func(model):  # closeness to FP32; a goal no recipe meets, so every stage runs
        out = run(model, inputs)
        return float(1.0 / (1.0 + np.abs(out - reference).mean()))

    config = {
        "model": {"framework": "onnxrt_qlinearops"},
        "tuning": {
            "accuracy_criterion": {"absolute": 1e-9},
            "workspace": {"path": str(tmp_path / "ws")},
            "exit_policy": {"max_trials": 30},
        },
    }
    result = lpot.tune(
        tiny_encoder(), config=config, q_dataloader=_batches(inputs), eval_func=eval_func, progress=False
    )
    labels = [t.label for t in result.trials]
    assert "model-wise smoothquant.alpha=0.9" in labels and "model-wise matmul.output=int8" in labels
    first_fallback = next(i for i, label in enumerate(labels) if label.startswith("fallback"))
    assert labels.index("model-wise smoothquant.alpha=0.9") < first_fallback
    saved = json.loads((tmp_path / "ws" / "best_model" / "recipe.json").read_text())
    assert "smoothquant.alpha" in json.dumps(saved)


def test_optimize_bakes_the_fusions_into_a_saved_fp32_model(tmp_path, backend):
    inputs = encoder_inputs(outlier=1.0)
    result = lpot.optimize(
        tiny_encoder(), "fp32", bench_dataloader=_batches(inputs), output=tmp_path / "fp32"
    )
    ops = {n.op_type for n in result.model.graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops
    assert "Attention=1" in result.details["transformer fusions"]
    np.testing.assert_allclose(run(result.model, inputs), run(tiny_encoder(), inputs), atol=1e-4)
    reloaded = backend.read(result.path)
    np.testing.assert_allclose(run(reloaded, inputs), run(result.model, inputs), atol=1e-6)
    assert result.speedup is not None and result.speedup > 0
    assert json.loads((tmp_path / "fp32" / "summary.json").read_text())["speedup"] == result.speedup


def test_optimize_refuses_bf16_where_onnx_runtime_cannot_run_it(backend):
    from lpot.errors import ConfigError, FeatureNotAvailableError
    from lpot_onnxrt.passes import bf16_refusal

    reason = bf16_refusal()
    assert reason is not None  # the PyPI wheel has no BF16 kernels on any CPU
    with pytest.raises(ConfigError, match="BF16 graph conversion refused: "):
        lpot.optimize(conv_chain(), "bf16, fp32")
    with pytest.raises(FeatureNotAvailableError, match="fp16: ONNX Runtime's CPU"):
        lpot.optimize(conv_chain(), "fp16")
