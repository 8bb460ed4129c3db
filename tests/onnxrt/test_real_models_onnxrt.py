"""Issue 17's rows on models users bring (the zoo: skl2onnx exports, all-MiniLM-L6-v2, EfficientNet-
Lite0), each a test that failed before its fix. Lean: a few batches each."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import lpot
from lpot import plugins
from lpot.engine import CalibrationSpec
from lpot.errors import ConfigError, DataError

zoo = pytest.importorskip("lpot_zoo")
from lpot_zoo.digits import digits_split  # noqa: E402
from lpot_zoo.sklearn_mlp import DEEP, mlp_classifier, mlp_onnx, output_names  # noqa: E402


def _digits(n: int = 300):
    _, _, x, y = digits_split(0)
    return x[:n].astype(np.float32), y[:n].astype(np.int64)


def _config(tmp_path, **extra):
    return {
        "evaluation": {"accuracy": {"metric": {"topk": 1}}},
        "tuning": {"workspace": {"path": str(tmp_path / "ws")}, "exit_policy": {"max_trials": 8}},
        **extra,
    }


@pytest.mark.parametrize("zipmap", [False, True], ids=["tensor", "zipmap"])
def test_skl2onnx_classifier_scores_the_output_it_is_told_and_matches_sklearn(tmp_path, zipmap):
    x, y = _digits()
    loader = lpot.ArrayLoader(x, y, batch_size=50)
    model = str(mlp_onnx(zipmap=zipmap))
    label, probabilities = output_names(zipmap=zipmap)
    # two outputs and no word on which one the metric reads: a precise error, not a score of `label`
    with pytest.raises(ConfigError, match=rf"2 outputs \('{label}', '{probabilities}'\).*model.outputs"):
        lpot.tune(
            model, q_dataloader=loader, eval_dataloader=loader, config=_config(tmp_path), progress=False
        )
    cfg = _config(tmp_path, model={"outputs": [probabilities]})
    result = lpot.tune(model, q_dataloader=loader, eval_dataloader=loader, config=cfg, progress=False)
    sklearn_accuracy = float((mlp_classifier().predict(x) == y).mean())
    assert result.baseline_accuracy == pytest.approx(sklearn_accuracy, abs=0.005)  # ~0.98, not 0.08
    assert result.status == "met" and result.recipe.quantized_ops()
    assert all(t.status == "ok" for t in result.trials), [
        t.error for t in result.trials
    ]  # ORT bias bug worked around
    with pytest.raises(ConfigError, match="no output named 'nope'"):
        lpot.tune(model, eval_dataloader=loader, config=_config(tmp_path, model={"outputs": ["nope"]}))


def test_topk_on_the_label_output_says_which_output_to_choose(tmp_path):
    x, y = _digits(100)
    loader = lpot.ArrayLoader(x, y, batch_size=50)
    cfg = _config(tmp_path, model={"outputs": ["label"]})
    with pytest.raises(DataError, match="topk scores a class-score matrix.*a label output"):
        lpot.tune(
            str(mlp_onnx(zipmap=False)),
            q_dataloader=loader,
            eval_dataloader=loader,
            config=cfg,
            progress=False,
        )


def test_dynamic_int8_of_a_preprocessed_mlp_really_quantizes(tmp_path):
    """ORT's optimizer fuses MatMul + Add into Gemm, which its dynamic quantizer skips: 0 INT8 ops."""
    x, y = _digits(200)
    loader = lpot.ArrayLoader(x, y, batch_size=50)
    cfg = _config(tmp_path, model={"framework": "onnxrt_integerops", "outputs": ["probabilities"]})
    result = lpot.tune(
        str(mlp_onnx(zipmap=False, hidden=DEEP)), eval_dataloader=loader, config=cfg, progress=False
    )
    ops = {n.op_type for n in result.model.graph.node}
    assert "MatMulInteger" in ops and len(result.recipe.quantized_ops()) == 5
    assert not any("quantizes no op" in w for w in result.warnings)


def test_cli_data_with_one_array_per_input_and_a_declared_output(tmp_path):
    x, y = _digits(200)
    np.savez(tmp_path / "d.npz", input=x, y=y)  # named as the model's input
    out = subprocess.run(
        [sys.executable, "-m", "lpot", "tune", "--model", str(mlp_onnx(zipmap=False)), "--data",
         str(tmp_path / "d.npz"), "--output-name", "probabilities", "--max-trials", "3", "--workspace",
         str(tmp_path / "ws"), "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "status: met" in out.stdout and "accuracy: FP32 0.9" in out.stdout


@pytest.fixture(scope="module")
def minilm():
    from lpot_zoo.exports import minilm_onnx
    from lpot_zoo.minilm import load_tokenizer
    from lpot_zoo.sentences import english_sentences, tokenized_loader

    data = tokenized_loader(load_tokenizer(), english_sentences()[:24], batch_size=8)  # 3 lengths
    return str(minilm_onnx()), data


@pytest.mark.parametrize("algorithm", ["percentile"])  # kl: the same path, 45 s of ORT's numpy search
def test_histogram_calibration_of_batches_of_different_sequence_lengths(minilm, algorithm):
    path, data = minilm
    lengths = {batch[0]["input_ids"].shape[1] for batch in data}
    assert len(lengths) > 1
    backend = plugins.backend_by_name("onnxrt")
    model = backend.load(path)
    stats = backend.calibrate(model, data, CalibrationSpec(algorithm=algorithm, sampling_size=24))
    assert stats.samples_seen == 24 and stats.ranges


def test_inspection_of_variable_length_batches_ranks_ops(minilm):
    path, data = minilm
    backend = plugins.backend_by_name("onnxrt")
    model = backend.load(path)
    from lpot.space import build_space

    space = build_space(
        backend.capability(model, "post_training_dynamic_quant"), approach="post_training_dynamic_quant"
    )
    quantized = backend.quantize(model, space.default_recipe(), {}, space.tensors)
    ops = list(space.ops)[:6]
    errors = backend.op_errors(model, quantized, ops, data, batches=3)
    assert set(errors) == {op.name for op in ops} and all(np.isfinite(list(errors.values())))


def test_preprocessing_runs_once_per_model(minilm, monkeypatch):
    from onnxruntime import quantization

    calls = []
    real = quantization.quant_pre_process
    monkeypatch.setattr(quantization, "quant_pre_process", lambda *a, **k: calls.append(k) or real(*a, **k))
    plugins.backend_by_name("onnxrt").load(minilm[0])
    assert len(calls) == 1


def _run_onnx(model, feeds):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]


def test_attention_fuses_on_the_default_sdpa_export(minilm):
    """transformers 5 exports attention through SDPA (NaN guards, split Q/K scales, a reshape to
    its own shape); ORT's matcher fused no Attention there, so dynamic INT8 had no QAttention."""
    import onnx

    from lpot_onnxrt.passes import fuse_transformer
    from lpot_onnxrt.passes.sdpa_attention import rewrite_sdpa
    from lpot_onnxrt.preprocess import preprocess

    path, data = minilm
    model = preprocess(onnx.load(path))
    counts = rewrite_sdpa(model).counts
    assert counts["nan_guards"] == 6 and counts["qk_scales"] == 6 and counts["identity_reshapes"] >= 6
    result = fuse_transformer(model)
    assert result.fused.get("Attention") == 6 and result.fused.get("EmbedLayerNormalization") == 1
    assert result.rewrites["nan_guards"] == 6
    for inputs, _ in data:  # real sentences, padded per batch: masked keys included
        reference, fused = _run_onnx(model, inputs), _run_onnx(result.model, inputs)
        assert np.abs(fused - reference).max() < 1e-4 * np.abs(reference).max()


def test_dynamic_int8_of_the_sdpa_export_runs_qattention(minilm, tmp_path):
    path, data = minilm
    result = lpot.tune(
        path,
        q_dataloader=data,
        eval_func=lambda model: 1.0,
        config={
            "quantization": {"approach": "post_training_dynamic_quant"},
            "tuning": {"exit_policy": {"max_trials": 1}, "workspace": {"path": str(tmp_path)}},
        },
        progress=False,
    )
    ops = [node.op_type for node in result.model.graph.node]
    assert ops.count("QAttention") == 6 and "IsNaN" not in ops


def test_a_graph_without_sdpa_attention_is_not_rewritten():
    from passes_graphs import tiny_encoder

    from lpot_onnxrt.passes.sdpa_attention import rewrite_sdpa

    model = tiny_encoder()
    rewrite = rewrite_sdpa(model)
    assert not rewrite.changed and rewrite.model is model
