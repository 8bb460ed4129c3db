"""``common.DataLoader``: LPOT 1.x's loader over a user dataset, yielding numpy batches.

The dataset is map-style (``len`` and ``dataset[i] -> (input, label)``) or iterable (yielding
``(input, label)``). Samples are stacked into numpy batches (a dict input becomes a dict of
arrays) unless ``collate_fn`` builds the batch; lpot's backends take numpy, so the same loader
serves every framework. It is re-iterable and deterministic: ``shuffle`` draws one permutation from
a fixed seed, so every pass (calibration, each evaluation) sees the same order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from lpot.errors import DataError

LAST_BATCH = ("rollover", "no_rollover")
log = logging.getLogger("lpot")


class DataLoader:
    """``last_batch='rollover'`` drops an incomplete last batch (its samples would roll over into
    the next epoch), ``'no_rollover'`` keeps it. ``sampler`` yields sample indices,
    ``batch_sampler`` lists of them (both replace ``shuffle``, as in torch); torch's samplers work
    as they are. ``num_workers`` and ``pin_memory`` are accepted and unused: samples are read in
    this process, on CPU."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        last_batch: str = "rollover",
        sampler: Iterable[int] | None = None,
        batch_sampler: Iterable[list[int]] | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        mapped = hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")
        if not mapped and not hasattr(dataset, "__iter__"):
            raise DataError(
                f"common.DataLoader: the dataset ({type(dataset).__name__}) must have __getitem__ and "
                "__len__ (map-style) or __iter__ (iterable), each sample an (input, label) pair"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"common.DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if last_batch not in LAST_BATCH:
            raise DataError(
                f"common.DataLoader: last_batch must be 'rollover' or 'no_rollover', got {last_batch!r}"
            )
        if not mapped and (sampler is not None or batch_sampler is not None or shuffle):
            raise DataError(
                "common.DataLoader: sampler, batch_sampler and shuffle need a map-style dataset "
                f"(__getitem__ and __len__); {type(dataset).__name__} is only iterable"
            )
        if mapped and batch_sampler is None and last_batch == "rollover" and 0 < len(dataset) < batch_size:
            raise DataError(
                f"common.DataLoader: {len(dataset)} samples make no full batch of {batch_size}, and "
                "last_batch='rollover' drops the incomplete one; use last_batch='no_rollover' or a smaller batch_size"
            )
        if num_workers or pin_memory:
            log.warning(
                "common.DataLoader: num_workers and pin_memory are ignored (samples are read in process)"
            )
        self.dataset, self.batch_size, self.collate_fn = dataset, batch_size, collate_fn
        self.last_batch, self.sampler, self.batch_sampler = last_batch, sampler, batch_sampler
        self.num_workers, self.pin_memory, self.shuffle, self.seed = num_workers, pin_memory, shuffle, seed
        self._mapped = mapped

    def __iter__(self) -> Iterator[Any]:
        collate = self.collate_fn or _collate
        if not self._mapped:
            yield from (collate(chunk) for chunk in self._chunks(iter(self.dataset)))
            return
        for indices in self._index_batches():
            yield collate([self.dataset[int(i)] for i in indices])

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        if not self._mapped:
            raise TypeError("an iterable dataset has no length")
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)  # type: ignore[arg-type]
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest and self.last_batch == "no_rollover" else 0)

    def _index_batches(self) -> Iterator[list[int]]:
        if self.batch_sampler is not None:
            yield from (list(b) for b in self.batch_sampler)
            return
        if self.sampler is not None:
            order: Iterable[int] = self.sampler
        elif self.shuffle:
            order = np.random.default_rng(self.seed).permutation(len(self.dataset)).tolist()
        else:
            order = range(len(self.dataset))
        yield from self._chunks(iter(order))

    def _chunks(self, items: Iterator[Any]) -> Iterator[list[Any]]:
        chunk: list[Any] = []
        for item in items:
            chunk.append(item)
            if len(chunk) == self.batch_size:
                yield chunk
                chunk = []
        if chunk and self.last_batch == "no_rollover":
            yield chunk


def _collate(samples: list[Any]) -> tuple[Any, Any]:
    """Numpy batches as lpot's config loaders make them; a sample without a label has label None."""
    from lpot.data.builder import collate

    pairs = [s if isinstance(s, (tuple, list)) and len(s) == 2 else (s, None) for s in samples]
    return collate(pairs)
