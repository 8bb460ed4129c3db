"""Framework-neutral data: loaders of ``(inputs, labels)`` numpy batches, datasets and transforms.

Datasets and transforms named in a config (LPOT 1.x names) are built by :func:`build_dataloader`;
more come through the ``lpot.datasets`` and ``lpot.transforms`` entry-point groups.
"""

from lpot.data.loaders import (
    ArrayLoader,
    GuardedLoader,
    LimitedLoader,
    batch_size_of,
    check_reiterable,
    guarded,
    split_batch,
)

__all__ = [
    "ArrayLoader",
    "GuardedLoader",
    "LimitedLoader",
    "batch_size_of",
    "build_dataloader",
    "check_reiterable",
    "guarded",
    "split_batch",
]


def __getattr__(name: str):  # the config-driven builder pulls in more modules: load it on use
    if name == "build_dataloader":
        from lpot.data.builder import build_dataloader

        return build_dataloader
    raise AttributeError(f"module 'lpot.data' has no attribute {name!r}")
