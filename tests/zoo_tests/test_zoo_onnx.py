"""The ONNX exports: valid models that compute what the torch models and scikit-learn compute."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from lpot_zoo.agreement import mean_cosine, top1, top1_agreement
from lpot_zoo.exports import efficientnet_onnx, minilm_onnx, ort_predictor


def _checked(path):
    onnx.checker.check_model(str(path), full_check=True)
    return onnx.load(str(path))


def test_efficientnet_export_matches_torch(photo_reference):
    model = _checked(efficientnet_onnx())
    assert [i.name for i in model.graph.input] == ["images"]
    assert model.opset_import[0].version == 17
    x, logits = photo_reference
    out = ort_predictor(efficientnet_onnx())(x)
    assert top1_agreement(out, top1(logits)) == 1.0
    assert np.abs(out - logits).max() < 1e-3


def test_export_is_cached():
    first = efficientnet_onnx()
    stamp = first.stat().st_mtime_ns
    assert efficientnet_onnx() == first and first.stat().st_mtime_ns == stamp


def test_minilm_export_has_dynamic_axes_and_matches_torch():
    import torch
    from lpot_zoo.minilm import sentence_embedder, sentence_loader
    from lpot_zoo.torch_run import predictor

    model = _checked(minilm_onnx())
    for graph_input in model.graph.input:
        dims = [d.dim_param for d in graph_input.type.tensor_type.shape.dim]
        assert dims == ["batch", "sequence"], graph_input.name
    loader = sentence_loader(16, batch_size=8)
    assert loader[0][0]["input_ids"].shape != loader[1][0]["input_ids"].shape
    ort_run, torch_run = ort_predictor(minilm_onnx()), predictor(sentence_embedder())
    with torch.no_grad():
        for inputs, _ in loader:
            assert mean_cosine(ort_run(inputs), torch_run(inputs)) > 0.99999


@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "tensor"])
@pytest.mark.parametrize("hidden", [(64,), (128, 64, 64, 32)], ids=["mlp", "deep_mlp"])
def test_sklearn_exports_agree_with_scikit_learn(zipmap, hidden):
    import onnxruntime as ort
    from lpot_zoo.digits import digits_split
    from lpot_zoo.sklearn_mlp import mlp_classifier, mlp_onnx, output_names

    model = _checked(mlp_onnx(zipmap=zipmap, hidden=hidden))
    assert tuple(o.name for o in model.graph.output) == output_names(zipmap=zipmap)
    prob_type = model.graph.output[1].type
    assert prob_type.HasField("sequence_type") == zipmap
    assert sum(n.op_type in ("MatMul", "Gemm") for n in model.graph.node) == len(hidden) + 1
    _, _, x, y = digits_split()
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    label, probabilities = session.run(None, {"input": x})
    clf = mlp_classifier(hidden)
    np.testing.assert_array_equal(label, clf.predict(x))
    if zipmap:
        probabilities = np.array([[row[c] for c in range(10)] for row in probabilities])
    np.testing.assert_allclose(probabilities, clf.predict_proba(x), atol=1e-4)
    assert np.mean(label == y) > 0.95
