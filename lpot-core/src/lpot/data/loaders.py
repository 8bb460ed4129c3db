"""Framework-neutral batching: re-iterable loaders of ``(inputs, labels)`` numpy batches.

Tuning walks the data many times (calibration, every evaluation, benchmarks), so loaders must be
re-iterable; a generator would be empty on its second pass, which :func:`check_reiterable` reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lpot.errors import DataError


@dataclass
class ArrayLoader:
    """Batches of ``(inputs[i:i+batch_size], labels[i:i+batch_size])`` over numpy arrays.

    ``inputs`` may be a dict of arrays (multi-input models); ``labels`` may be None.
    """

    inputs: Any
    labels: np.ndarray | None = None
    batch_size: int = 32
    last_batch: str = "keep"  # or "drop"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise DataError(f"ArrayLoader batch_size must be >= 1, got {self.batch_size!r}")
        if self.last_batch not in ("keep", "drop"):
            raise DataError(f"ArrayLoader last_batch must be 'keep' or 'drop', got {self.last_batch!r}")

    def __len__(self) -> int:
        n = _num_samples(self.inputs)
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest and self.last_batch == "keep" else 0)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n = _num_samples(self.inputs)
        for start in range(0, n, self.batch_size):
            stop = min(start + self.batch_size, n)
            if stop - start < self.batch_size and self.last_batch == "drop":
                return
            yield _slice(self.inputs, start, stop), (None if self.labels is None else self.labels[start:stop])


def _num_samples(inputs: Any) -> int:
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values())))
    return len(inputs)


def _slice(inputs: Any, start: int, stop: int) -> Any:
    if isinstance(inputs, dict):
        return {k: v[start:stop] for k, v in inputs.items()}
    return inputs[start:stop]


def batch_size_of(inputs: Any) -> int:
    """Samples in one batch's inputs (first input for dicts, len() for lists of samples)."""
    if isinstance(inputs, dict):
        inputs = next(iter(inputs.values()))
    shape = getattr(inputs, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    return len(inputs)


class LimitedLoader:
    """The first ``max_samples`` samples of a loader, cutting the last batch if needed.

    Used for calibration's ``sampling_size``: statistics then depend on exactly that many samples.
    """

    def __init__(self, loader: Iterable[Any], max_samples: int) -> None:
        self.loader = loader
        self.max_samples = max_samples

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        seen = 0
        for batch in self.loader:
            inputs, labels = split_batch(batch)
            n = batch_size_of(inputs)
            if seen + n > self.max_samples:
                keep = self.max_samples - seen
                if keep <= 0:
                    return
                inputs = _slice(inputs, 0, keep)
                labels = None if labels is None else labels[:keep]
                n = keep
            yield inputs, labels
            seen += n
            if seen >= self.max_samples:
                return


class GuardedLoader:
    """A user's loader as lpot reads it: an exception it raises becomes a :class:`DataError` naming
    the loader (``what``), and more than ``max_batches`` batches in one pass (an endless loader)
    stops with the config key that sets the cap (``cap_key``)."""

    def __init__(
        self, loader: Iterable[Any], what: str, max_batches: int | None = None, cap_key: str | None = None
    ) -> None:
        self.loader, self.what, self.max_batches, self.cap_key = loader, what, max_batches, cap_key

    def __iter__(self) -> Iterator[Any]:
        try:
            batches = iter(self.loader)
        except Exception as exc:
            raise self._raised(exc) from exc
        count = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except DataError:
                raise
            except Exception as exc:
                raise self._raised(exc) from exc
            count += 1
            if self.max_batches is not None and count > self.max_batches:
                raise DataError(
                    f"{self.what} yielded more than {self.max_batches} batches in one pass ({self.cap_key}): "
                    "an endless loader? give a finite one, or raise the cap"
                )
            yield batch

    def _raised(self, exc: Exception) -> DataError:
        return DataError(f"{self.what} raised {type(exc).__name__}: {exc}")


class _SizedGuardedLoader(GuardedLoader):
    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]


def guarded(loader: Any, what: str, max_batches: int | None = None, cap_key: str | None = None) -> Any:
    """``loader`` behind a :class:`GuardedLoader` (keeping its ``len`` when it has one); None stays None."""
    if loader is None or isinstance(loader, GuardedLoader):
        return loader
    cls = _SizedGuardedLoader if hasattr(loader, "__len__") else GuardedLoader
    return cls(loader, what, max_batches, cap_key)


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(inputs, labels)`` from a batch; a bare array or dict is inputs with no labels."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    return batch, None


def check_reiterable(loader: Any, what: str) -> None:
    """Fail early with a clear message for a missing, empty or one-shot dataloader."""
    if loader is None:
        return
    if not isinstance(loader, Iterable):
        raise DataError(
            f"{what} must be an iterable of (inputs, labels) batches, got {type(loader).__name__}"
        )
    if iter(loader) is loader:
        raise DataError(
            f"{what} is a one-shot iterator ({type(loader).__name__}); tuning reads the data several "
            "times: pass a re-iterable loader such as a list of batches or lpot.data.ArrayLoader"
        )
    for _ in loader:
        return
    raise DataError(f"{what} is empty: it yielded no batch")
