"""SQuAD v1.1 answer scores: token F1 and exact match after the official answer normalization.

Each prediction is one answer string; its label is the reference answer or a list of acceptable
answers, and the best-matching one counts (as the official ``evaluate-v1.1.py`` does). Results are
fractions in [0, 1] (the official script prints percentages).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from lpot.errors import DataError

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and the articles a/an/the, collapse white space."""
    text = "".join(ch for ch in str(text).lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the bags of normalized tokens of one prediction and one reference."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def is_text(value: Any) -> bool:
    """True for a string, or a sequence (list, tuple, numpy array) whose first item is a string."""
    if isinstance(value, str):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "US" or (
            value.dtype == object and value.size > 0 and is_text(value.flat[0])
        )
    return isinstance(value, Sequence) and len(value) > 0 and is_text(value[0])


def _answers(value: Any, what: str) -> list[Any]:
    if value is None:
        raise DataError(f"metric needs reference answers, but the evaluation dataloader yields None {what}")
    if isinstance(value, str):
        return [value]
    return list(np.asarray(value, dtype=object).tolist()) if isinstance(value, np.ndarray) else list(value)


class _AnswerMetric:
    """Mean over questions of the best score against any reference answer."""

    higher_is_better = True
    sample_range = (0.0, 1.0)  # a mean of per-question scores in [0, 1]: staged evaluation may bound it
    score = staticmethod(token_f1)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    @property
    def samples(self) -> int:
        return self.count

    def update(self, preds: Any, labels: Any) -> None:
        predictions, references = _answers(preds, "predictions"), _answers(labels, "labels")
        if len(predictions) != len(references):
            raise DataError(
                f"metric got {len(predictions)} answers but {len(references)} references in one batch"
            )
        for prediction, refs in zip(predictions, references):
            refs = [refs] if isinstance(refs, str) else list(refs)
            if not refs:
                raise DataError("metric got a question with no reference answer")
            self.total += max(self.score(str(prediction), str(r)) for r in refs)
            self.count += 1

    def result(self) -> float:
        return self.total / self.count if self.count else float("nan")


class SquadF1(_AnswerMetric):
    """SQuAD token F1 of answer strings against one or several reference answers each."""


class ExactMatch(_AnswerMetric):
    """Share of answers equal to a reference after SQuAD normalization."""

    score = staticmethod(exact_match)
