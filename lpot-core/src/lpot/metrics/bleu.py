"""Corpus BLEU (Papineni et al. 2002) of translations against one or several references each.

Clipped n-gram counts and lengths are summed over the whole corpus before the geometric mean, so
the streamed result equals BLEU of the full corpus, not an average of per-batch scores. The
reference length for the brevity penalty is the closest reference length (ties: the shorter), as
sacreBLEU and NLTK do. Strings are tokenized with the ``13a`` rules of WMT's mteval script
(``tokenize="none"``: split on white space); token lists are used as they are. The result is a
fraction in [0, 1] (sacreBLEU prints it times 100).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np

from lpot.errors import ConfigError, DataError

_13A = (
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),  # punctuation
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma, unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # ... unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # a dash after a digit
)


def tokenize_13a(text: str) -> list[str]:
    text = text.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in text:
        for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
            text = text.replace(entity, char)
    text = f" {text} "
    for pattern, repl in _13A:
        text = pattern.sub(repl, text)
    return text.split()


def ngrams(tokens: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


class Bleu:
    """Streaming corpus BLEU; ``max_order`` n-gram orders with uniform weights, no smoothing."""

    higher_is_better = True

    def __init__(self, max_order: int = 4, tokenize: str = "13a", lowercase: bool = False) -> None:
        if not isinstance(max_order, int) or isinstance(max_order, bool) or max_order < 1:
            raise ConfigError(f"metric bleu: max_order must be a positive integer, got {max_order!r}")
        if tokenize not in ("13a", "none"):
            raise ConfigError(f"metric bleu: tokenize must be '13a' or 'none', got {tokenize!r}")
        self.max_order, self.tokenize, self.lowercase = max_order, tokenize, lowercase
        self.reset()

    def reset(self) -> None:
        self.matches = [0] * self.max_order
        self.possible = [0] * self.max_order
        self.hyp_len = 0
        self.ref_len = 0

    def _tokens(self, sentence: Any) -> list[str]:
        if not isinstance(sentence, str):
            return [str(t) for t in sentence]  # already tokenized
        if self.lowercase:
            sentence = sentence.lower()
        return tokenize_13a(sentence) if self.tokenize == "13a" else sentence.split()

    def update(self, preds: Any, labels: Any) -> None:
        hyps = [preds] if isinstance(preds, str) else _items(preds, "predictions")
        refs = [labels] if isinstance(labels, str) else _items(labels, "labels")
        if len(hyps) != len(refs):
            raise DataError(
                f"metric bleu got {len(hyps)} translations but {len(refs)} references in one batch"
            )
        for hyp, ref in zip(hyps, refs):
            self._count(self._tokens(hyp), [self._tokens(r) for r in _references(hyp, ref)])

    def _count(self, hyp: list[str], refs: list[list[str]]) -> None:
        self.hyp_len += len(hyp)
        self.ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, self.max_order + 1):
            counts = ngrams(hyp, n)
            best: Counter[tuple[str, ...]] = Counter()
            for r in refs:
                best |= ngrams(r, n)
            self.matches[n - 1] += sum((counts & best).values())
            self.possible[n - 1] += max(len(hyp) - n + 1, 0)

    def result(self) -> float:
        if self.hyp_len == 0:
            return float("nan") if self.ref_len == 0 else 0.0
        if min(self.matches) == 0:
            return 0.0
        log_precision = sum(math.log(m / p) for m, p in zip(self.matches, self.possible)) / self.max_order
        brevity = 1.0 if self.hyp_len > self.ref_len else math.exp(1 - self.ref_len / self.hyp_len)
        return brevity * math.exp(log_precision)


def _items(value: Any, what: str) -> list[Any]:
    if value is None:
        raise DataError(f"metric bleu needs {what}, got None")
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value)


def _references(hyp: Any, ref: Any) -> list[Any]:
    """A string translation has a reference string or a list of them; a token-list translation has
    a token list or a list of token lists."""
    if isinstance(ref, np.ndarray):
        ref = ref.tolist()
    if isinstance(hyp, str):
        refs = [ref] if isinstance(ref, str) else list(ref)
    else:
        refs = list(ref)
        refs = refs if refs and not isinstance(refs[0], str) else [refs]
    if not refs:
        raise DataError("metric bleu got a translation with no reference")
    return refs
