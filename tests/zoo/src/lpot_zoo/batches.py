"""The dataloader shape lpot takes: a re-iterable of ``(inputs, labels)`` batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Inputs = Any  # a numpy array, or a dict of arrays named as the model's inputs


@dataclass(frozen=True)
class Batches(Sequence[tuple[Inputs, Any]]):
    """Batches held in memory: iterating twice yields the same batches, as tuning needs."""

    batches: tuple[tuple[Inputs, Any], ...]

    def __iter__(self) -> Iterator[tuple[Inputs, Any]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: Any) -> Any:
        return self.batches[index]

    def inputs(self) -> list[Inputs]:
        """The inputs of every batch, labels dropped."""
        return [inputs for inputs, _ in self.batches]

    def labelled(self, label_of: Callable[[Inputs], Any]) -> Batches:
        """The same inputs with ``label_of(inputs)`` as labels (e.g. the FP32 model's predictions)."""
        return Batches(tuple((inputs, label_of(inputs)) for inputs, _ in self.batches))

    def take(self, count: int) -> Batches:
        """The first ``count`` batches (a lean fixture from a full one)."""
        return Batches(self.batches[:count])


def batched(x: np.ndarray, y: Any = None, batch_size: int = 8) -> Batches:
    """``x`` (and ``y`` when given) cut into batches of ``batch_size`` along axis 0."""
    out = []
    for start in range(0, len(x), batch_size):
        labels = None if y is None else y[start : start + batch_size]
        out.append((x[start : start + batch_size], labels))
    return Batches(tuple(out))
