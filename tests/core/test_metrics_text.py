"""SQuAD token F1 / exact match and corpus BLEU, against hand-computed values (and sacreBLEU)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lpot.errors import DataError
from lpot.metrics import create_metric
from lpot.metrics.bleu import tokenize_13a
from lpot.metrics.squad import normalize_answer, token_f1


def test_squad_normalization_and_token_f1():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    # prediction tokens {eiffel, tower, paris}, reference {eiffel, tower}: P = 2/3, R = 1
    assert token_f1("the Eiffel Tower, Paris", "Eiffel tower") == pytest.approx(0.8)
    assert token_f1("nothing", "else") == 0.0


def test_squad_f1_takes_the_best_reference_and_streams():
    metric = create_metric("squad_f1")
    metric.update(["Denver Broncos", "in 1990"], [["Broncos", "Denver Broncos"], ["1991"]])
    metric.update(np.array(["a cat"]), np.array(["the cat sat"]))  # P = 1, R = 1/2 -> 2/3
    assert metric.result() == pytest.approx((1.0 + 0.0 + 2 / 3) / 3)
    assert metric.samples == 3 and metric.higher_is_better


def test_f1_switches_to_token_f1_for_text_as_lpot_did():
    metric = create_metric("F1")
    metric.update(["the Eiffel Tower, Paris"], ["Eiffel tower"])
    assert metric.result() == pytest.approx(0.8)
    assert create_metric("squadf1").higher_is_better  # INC 2.x spelling SquadF1


def test_exact_match():
    metric = create_metric("exact_match")
    metric.update(["The Broncos.", "Panthers"], [["broncos"], ["Carolina Panthers"]])
    assert metric.result() == 0.5
    with pytest.raises(DataError, match="2 answers but 1 references"):
        metric.update(["a", "b"], ["a"])


def test_bleu_hand_computed():
    # hypothesis 6 tokens, reference 7: p1 = 5/6, p2 = 3/5, p3 = 2/4, p4 = 1/3, brevity exp(1 - 7/6)
    hyp, ref = "the cat sat on a mat", "the cat sat on the red mat"
    four = create_metric("bleu", {"tokenize": "none"})
    four.update([hyp], [ref])
    assert four.result() == pytest.approx(math.exp(1 - 7 / 6) * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    two = create_metric("bleu", {"tokenize": "none", "max_order": 2})
    two.update([hyp], [ref])
    assert two.result() == pytest.approx(math.exp(1 - 7 / 6) * math.sqrt(5 / 6 * 3 / 5))
    no_4gram = create_metric("bleu", {"tokenize": "none"})
    no_4gram.update(["the cat sat the mat"], [ref])  # no 4-gram in common: BLEU is 0 without smoothing
    assert no_4gram.result() == 0.0


def test_bleu_is_a_corpus_score_and_takes_the_closest_reference_length():
    one = create_metric("bleu", {"tokenize": "none", "max_order": 1})
    one.update([["a", "b", "c"]], [[["a", "b", "c", "d"], ["a", "x"]]])  # token lists, 2 references
    one.update([["a", "y"]], [[["a", "y", "z"]]])
    # clipped unigrams: 3 + 2 of 5 -> p1 = 1. Reference length: |4-3| = |2-3| ties and the shorter (2)
    # wins, plus 3 -> 5, not longer than the 5 hypothesis tokens: no brevity penalty.
    assert one.result() == 1.0
    longer = create_metric("bleu", {"tokenize": "none", "max_order": 1})
    longer.update([["a", "b", "c"]], [[["a", "b", "c", "d", "e"]]])
    assert longer.result() == pytest.approx(math.exp(1 - 5 / 3))


def test_bleu_13a_tokenizer_and_identity():
    tokens = tokenize_13a("Hello, world. It's 3.5-4 km!")
    assert tokens == ["Hello", ",", "world", ".", "It's", "3.5", "-", "4", "km", "!"]
    metric = create_metric("BLEU")
    metric.update(["A long sentence, well translated."], ["A long sentence, well translated."])
    assert metric.result() == pytest.approx(1.0)


def test_bleu_matches_sacrebleu():
    sacrebleu = pytest.importorskip("sacrebleu")
    hyps = [
        "The cat is sitting on the mat, quietly.",
        "There is a dog in the garden!",
        "He said it costs 3.50 dollars - too much.",
        "Completely unrelated words here",
    ]
    refs = [
        "The cat sits on the mat quietly.",
        "A dog is in the garden!",
        "He said that it costs 3.50 dollars, which is too much.",
        "Nothing in common",
    ]
    metric = create_metric("bleu")
    metric.update(hyps[:2], refs[:2])
    metric.update(hyps[2:], refs[2:])
    expected = sacrebleu.corpus_bleu(hyps, [refs], smooth_method="none").score / 100
    assert metric.result() == pytest.approx(expected, abs=1e-9)
