"""The torch models: real EfficientNet-Lite0 and MiniLM weights, and the shapes users write."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lpot_zoo.agreement import evaluate, mean_cosine, top1, top1_agreement
from lpot_zoo.torch_run import predictor


def test_efficientnet_recognises_the_photographs(photo_reference):
    _, logits = photo_reference
    classes = top1(logits[:4])  # astronaut, chelsea, coffee, rocket, centred
    assert classes[1] in (281, 282, 285)  # tabby / tiger cat / Egyptian cat
    assert classes[2] == 967  # espresso
    assert classes[3] in (657, 812)  # missile / space shuttle


def test_efficientnet_uses_same_padding_conv_subclasses(efficientnet):
    from efficientnet_lite_pytorch.utils import Conv2dStaticSamePadding

    convs = [m for m in efficientnet.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 49 and all(isinstance(m, Conv2dStaticSamePadding) for m in convs)


@pytest.fixture(scope="module")
def text_batches():
    from lpot_zoo.minilm import sentence_loader

    return sentence_loader(24, batch_size=8)


def test_sentence_batches_have_their_own_lengths(text_batches):
    lengths = {inputs["input_ids"].shape[1] for inputs, _ in text_batches}
    assert len(lengths) == 3
    for inputs, _ in text_batches:
        assert set(inputs) == {"input_ids", "attention_mask"}
        assert inputs["input_ids"].dtype == np.int64
        assert inputs["attention_mask"][:, 0].all() and not inputs["attention_mask"].all()


def test_minilm_embeddings_match_sentence_transformers(text_batches):
    from lpot_zoo.minilm import model_dir, sentence_embedder
    from lpot_zoo.sentences import english_sentences
    from sentence_transformers import SentenceTransformer

    ours = np.concatenate([predictor(sentence_embedder())(x) for x, _ in text_batches])
    st = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    theirs = st.encode(list(english_sentences()[:24]))
    assert ours.shape == (24, 384)
    assert mean_cosine(ours, theirs) > 0.9999
    # and the sentences are told apart: not every embedding points the same way
    assert mean_cosine(ours[:12], ours[12:]) < 0.5


def test_bert_takes_keyword_inputs_and_returns_a_model_output(text_batches):
    from lpot_zoo.minilm import load_bert

    out = predictor(load_bert(), "last_hidden_state")(text_batches[0][0])
    assert out.shape == (8, text_batches[0][0]["input_ids"].shape[1], 384)


@pytest.mark.parametrize("build", ["residual_relu_net", "same_pad_conv_net"])
def test_conv_shapes_learned_digits(build):
    from lpot_zoo import shapes

    model = getattr(shapes, build)()
    accuracy = evaluate(shapes.digit_image_batches(count=256), predictor(model), top1_agreement)
    assert accuracy > 0.9


def test_residual_net_calls_functional_relu():
    import torch.fx
    from lpot_zoo.shapes import residual_relu_net

    graph = torch.fx.symbolic_trace(residual_relu_net(trained=False)).graph
    targets = {node.target for node in graph.nodes if node.op == "call_function"}
    assert torch.relu in targets and torch.nn.functional.relu in targets


def test_same_pad_convs_call_f_conv2d():
    import torch.fx
    from lpot_zoo.shapes import SamePadConv2d, same_pad_conv_net

    model = same_pad_conv_net(trained=False)
    assert sum(isinstance(m, SamePadConv2d) for m in model.modules()) == 4
    graph = torch.fx.symbolic_trace(model).graph
    convs = [n for n in graph.nodes if n.target is torch.nn.functional.conv2d]
    assert len(convs) == 4
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("model_output", [False, True], ids=["dict", "ModelOutput"])
def test_keyword_encoder_returns_named_outputs(text_batches, model_output):
    from lpot_zoo.shapes import keyword_encoder

    model = keyword_encoder(model_output=model_output)
    inputs = {k: torch.from_numpy(v) for k, v in text_batches[0][0].items()}
    out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
    assert out["pooler_output"].shape == (8, 64)
    # padding is masked: a sentence's embedding does not change with the batch's padding
    one = {k: v[:1, : int(inputs["attention_mask"][0].sum())] for k, v in inputs.items()}
    alone = model(**one)["pooler_output"]
    torch.testing.assert_close(alone[0], out["pooler_output"][0], atol=1e-4, rtol=1e-4)
