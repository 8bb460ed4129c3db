"""Array datasets: dummy (synthetic), numpy files, CSV, and scikit-learn's bundled sets.

``.npy`` files are memory-mapped, so even a large array costs memory only for the batches read.
Files are never unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any

import numpy as np

from lpot.data.datasets import existing_file
from lpot.errors import DataError

SKLEARN_SETS = ("digits", "iris", "wine", "breast_cancer")


class Dummy:
    """Synthetic inputs as the original tool's ``dummy``: ``shape[0]`` samples of ``shape[1:]``.

    Values are uniform in ``[low, high]`` (integers for integer dtypes), labels are 0 unless
    ``label`` is False (then None). Deterministic for a given seed.
    """

    def __init__(
        self,
        shape: Sequence[int],
        low: float = -1.0,
        high: float = 1.0,
        dtype: str = "float32",
        label: bool = True,
        seed: int = 0,
        *,
        where: str = "dummy",
    ) -> None:
        if not shape or any(not isinstance(d, int) or d < 1 for d in shape):
            raise DataError(f"{where}.shape: expected positive integers [samples, ...], got {list(shape)!r}")
        self.shape, self.low, self.high, self.label = tuple(shape), low, high, label
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise DataError(f"{where}.dtype: {dtype!r} is not a numpy dtype") from None
        self.seed = seed

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> tuple[np.ndarray, int | None]:
        rng = np.random.default_rng([self.seed, index])
        if np.issubdtype(self.dtype, np.integer):
            value = rng.integers(int(self.low), int(self.high) + 1, size=self.shape[1:])
        else:
            value = rng.uniform(self.low, self.high, size=self.shape[1:])
        return value.astype(self.dtype), (0 if self.label else None)


class NumpyArrays:
    """``data: file.npz`` (arrays ``x`` and optional ``y``) or ``inputs: file.npy`` (+ ``labels: file.npy``)."""

    def __init__(
        self,
        data: str | None = None,
        inputs: str | None = None,
        labels: str | None = None,
        *,
        where: str = "numpy",
    ) -> None:
        if (data is None) == (inputs is None):
            raise DataError(f"{where}: give either 'data' (an .npz with x and y) or 'inputs' (an .npy)")
        if data is not None:
            path = existing_file(data, f"{where}.data")
            try:
                with np.load(path, allow_pickle=False) as npz:
                    if "x" not in npz:
                        raise DataError(f"{where}.data: {str(path)!r} has no array 'x' (found {list(npz)})")
                    self.x, self.y = npz["x"], (npz["y"] if "y" in npz else None)
            except ValueError as exc:
                raise DataError(
                    f"{where}.data: {str(path)!r} is not an .npz of plain arrays ({exc})"
                ) from exc
        else:
            self.x = _load_npy(inputs, f"{where}.inputs")
            self.y = _load_npy(labels, f"{where}.labels") if labels else None
        if self.y is not None and len(self.y) != len(self.x):
            raise DataError(f"{where}: {len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        return np.asarray(self.x[index]), (None if self.y is None else self.y[index])


def _load_npy(path: str | None, where: str) -> np.ndarray:
    file = existing_file(path, where)
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"{where}: {str(file)!r} is not a plain .npy array ({exc})") from exc


class CSV:
    """Rows of numbers; ``label_column`` (name or index) becomes the label, the rest float32 features."""

    def __init__(
        self,
        path: str,
        label_column: str | int | None = -1,
        delimiter: str = ",",
        header: bool = True,
        *,
        where: str = "CSV",
    ) -> None:
        file = existing_file(path, f"{where}.path")
        with open(file, newline="") as fh:
            rows = list(csv.reader(fh, delimiter=delimiter))
        names = rows.pop(0) if header and rows else []
        if not rows:
            raise DataError(f"{where}.path: {str(file)!r} has no data rows")
        column = label_column
        if isinstance(label_column, str):
            if label_column not in names:
                raise DataError(f"{where}.label_column: no column {label_column!r} in {names}")
            column = names.index(label_column)
        try:
            table = np.asarray(rows, dtype=np.float64)
        except ValueError as exc:
            raise DataError(f"{where}.path: {str(file)!r} has a non-numeric cell ({exc})") from None
        if column is None:
            self.x, self.y = table.astype(np.float32), None
        else:
            column = int(column) % table.shape[1]
            self.y = table[:, column]
            self.y = (
                self.y.astype(np.int64) if np.all(self.y == np.round(self.y)) else self.y.astype(np.float32)
            )
            self.x = np.delete(table, column, axis=1).astype(np.float32)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        return self.x[index], (None if self.y is None else self.y[index])


class SklearnSet:
    """A scikit-learn bundled set with a deterministic split: ``split`` train / val / all.

    ``digits`` may come as ``image: true`` 8×8×1 images (values 0–16) instead of 64 features.
    """

    def __init__(
        self,
        name: str,
        split: str = "all",
        val_fraction: float = 0.25,
        seed: int = 0,
        image: bool = False,
        *,
        where: str = "sklearn",
    ) -> None:
        if name not in SKLEARN_SETS:
            raise DataError(
                f"{where}: unknown scikit-learn set {name!r}; expected one of {', '.join(SKLEARN_SETS)}"
            )
        if split not in ("train", "val", "all"):
            raise DataError(f"{where}.split: expected train, val or all, got {split!r}")
        try:
            from sklearn import datasets
        except ImportError:
            raise DataError(
                f"{where}: the {name!r} data set comes with scikit-learn: pip install scikit-learn"
            ) from None
        bunch = getattr(datasets, f"load_{name}")()
        x = (bunch.images[..., None] if image and name == "digits" else bunch.data).astype(np.float32)
        y = bunch.target.astype(np.int64)
        order = np.random.default_rng(seed).permutation(len(y))
        cut = int(round(len(y) * (1 - val_fraction)))
        keep = {"train": order[:cut], "val": order[cut:], "all": np.arange(len(y))}[split]
        self.x, self.y = x[keep], y[keep]

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        return self.x[index], int(self.y[index])


def _sklearn(name: str):
    def factory(
        split: str = "all",
        val_fraction: float = 0.25,
        seed: int = 0,
        image: bool = False,
        *,
        where: str = name,
    ) -> SklearnSet:
        return SklearnSet(name, split, val_fraction, seed, image, where=where)

    factory.__name__ = name
    factory.__doc__ = f"scikit-learn's {name} set (see SklearnSet)."
    factory.requires = {"sklearn": "scikit-learn"}  # type: ignore[attr-defined]  # see plugins.describe
    return factory


digits = _sklearn("digits")
iris = _sklearn("iris")
wine = _sklearn("wine")
breast_cancer = _sklearn("breast_cancer")
