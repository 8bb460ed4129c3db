"""Real English sentences of varying length, from texts that ship inside installed packages.

The descriptions of scikit-learn's data sets (``sklearn/datasets/descr/*.rst``, prose about
where the data came from and what it measures) split into sentences, then the Zen of Python. Tables,
field lists, directives and references are dropped. Tokenized with the model's own tokenizer and
padded per batch, so batches have different sequence lengths as users' loaders do.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from lpot_zoo.batches import Batches

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_MARKUP = re.compile(r"``|`_+|`|\*\*|\*|\[[^\]]*\]_?|https?://\S+|:[a-z]+:")
_NOT_PROSE = ("..", ":", "|", "=", "-", "+", "*", "#", ">>>")


def _prose_lines(text: str) -> list[str]:
    """Paragraphs of running text: markup lines, tables and field lists removed."""
    paragraphs, current = [], []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(_NOT_PROSE) or raw.startswith("    "):
            if current:
                paragraphs.append(" ".join(current))
            current = []
            continue
        current.append(line)
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def _is_sentence(text: str) -> bool:
    words = text.split()
    letters = sum(ch.isalpha() for ch in text)
    return 5 <= len(words) <= 60 and letters > 0.7 * len(text.replace(" ", "")) and text[-1] in ".!?"


def _zen_of_python() -> list[str]:
    """``import this`` prints the Zen; its rot13 source ``this.s`` is read without printing."""
    import importlib.util

    spec = importlib.util.find_spec("this")
    source = spec.loader.get_source("this") if spec and spec.loader else ""
    match = re.search(r's = """(.*?)"""', source or "", re.S)
    zen = codecs.decode(match.group(1), "rot13") if match else ""
    return [line.strip() for line in zen.splitlines()[2:] if line.strip()]


@cache
def english_sentences() -> tuple[str, ...]:
    """All sentences, in a fixed order (file by file, then the Zen), without duplicates."""
    found: dict[str, None] = {}
    descr = resources.files("sklearn.datasets") / "descr"
    for entry in sorted(descr.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".rst"):
            continue
        for paragraph in _prose_lines(entry.read_text(encoding="utf-8")):
            for sentence in _SENTENCE_END.split(_MARKUP.sub("", paragraph)):
                sentence = " ".join(sentence.split())
                if _is_sentence(sentence):
                    found.setdefault(sentence, None)
    for line in _zen_of_python():
        found.setdefault(line, None)
    return tuple(found)


def tokenized_loader(
    tokenizer: Any,
    sentences: Sequence[str],
    *,
    batch_size: int = 8,
    max_length: int = 128,
    fixed_length: bool = False,
    input_names: Sequence[str] = ("input_ids", "attention_mask"),
) -> Batches:
    """Batches of ``{name: int64 array}`` for ``input_names``, labels ``None``.

    Each batch is padded to its own longest sentence (``fixed_length=True`` pads all to
    ``max_length``, as benchmarks at a fixed sequence length need).
    """
    batches = []
    for start in range(0, len(sentences), batch_size):
        encoded = tokenizer(
            list(sentences[start : start + batch_size]),
            padding="max_length" if fixed_length else True,
            truncation=True,
            max_length=max_length,
            return_tensors="np",
        )
        batches.append(({name: np.asarray(encoded[name], dtype=np.int64) for name in input_names}, None))
    return Batches(tuple(batches))
