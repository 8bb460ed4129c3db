"""Dataloaders from config sections: ``{batch_size, dataset: {Name: {...}}, transform: {Name: {...}}}``.

Dataset and transform names are looked up in the ``lpot.datasets`` / ``lpot.transforms``
entry-point groups (LPOT 1.x names; exact, then case-insensitive, then a did-you-mean). Batches are
collated from per-sample items lazily, so memory stays flat in dataset size.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from lpot.errors import DataError, PluginError

LAST_BATCH = {"keep": "keep", "drop": "drop", "no_rollover": "keep", "rollover": "drop"}
# Transforms that need a framework: where to get them when their plugin is not installed.
PROVIDED_ELSEWHERE = {"ParseDecodeImagenet": "lpot-tensorflow", "ParseDecodeCoco": "lpot-tensorflow"}


class DatasetLoader:
    """Batches of ``(inputs, labels)`` from a map-style dataset and per-sample transforms.

    Random transforms draw from a generator seeded by ``(seed, sample index)``, so every pass and
    every run with the same seed sees the same data.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        last_batch: str = "keep",
        shuffle: bool = False,
        transforms: Sequence[Any] = (),
        seed: int = 0,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"dataloader batch_size must be a positive integer, got {batch_size!r}")
        if last_batch not in LAST_BATCH:
            raise DataError(
                f"dataloader last_batch must be one of {', '.join(LAST_BATCH)}, got {last_batch!r}"
            )
        self.dataset, self.batch_size, self.last_batch = dataset, batch_size, LAST_BATCH[last_batch]
        self.shuffle, self.transforms, self.seed = shuffle, list(transforms), seed

    def __len__(self) -> int:
        full, rest = divmod(len(self.dataset), self.batch_size)
        return full + (1 if rest and self.last_batch == "keep" else 0)

    def sample(self, index: int) -> tuple[Any, Any]:
        image, label = self.dataset[index]
        rng = np.random.default_rng([self.seed, index])
        for transform in self.transforms:
            image, label = transform(image, label, rng)
        return image, label

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed).permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            chunk = order[start : start + self.batch_size]
            if len(chunk) < self.batch_size and self.last_batch == "drop":
                return
            yield collate([self.sample(int(i)) for i in chunk])


def collate(samples: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    inputs = [s[0] for s in samples]
    labels = [s[1] for s in samples]
    if isinstance(inputs[0], Mapping):
        batch_inputs: Any = {k: np.stack([np.asarray(x[k]) for x in inputs]) for k in inputs[0]}
    else:
        shapes = {np.shape(x) for x in inputs}
        if len(shapes) > 1:
            raise DataError(
                f"samples of one batch have different shapes {sorted(shapes)}: add a Resize/CenterCrop "
                "transform so every sample has the model's input shape"
            )
        batch_inputs = np.stack([np.asarray(x) for x in inputs])
    if all(label is None for label in labels):
        return batch_inputs, None
    if any(isinstance(label, Mapping) for label in labels):
        return batch_inputs, labels
    try:
        return batch_inputs, np.stack([np.asarray(label) for label in labels])
    except ValueError:
        return batch_inputs, labels


def _lookup(group: str, name: str, where: str) -> Any:
    from lpot import plugins

    registered = plugins.available(group)
    if name not in registered:
        folded = {k.lower(): k for k in registered}
        if name.lower() in folded:
            name = folded[name.lower()]
        else:
            kind = group.split(".")[1].rstrip("s")
            if name in PROVIDED_ELSEWHERE:
                raise DataError(
                    f"{where}: {kind} {name!r} needs a framework: pip install {PROVIDED_ELSEWHERE[name]}"
                )
            close = difflib.get_close_matches(name, list(registered), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(registered))}"
            raise DataError(f"{where}: unknown {kind} {name!r}{hint}")
    try:
        return plugins.load(group, name), name
    except PluginError as exc:
        raise DataError(f"{where}: {exc}") from exc


def _call(factory: Any, params: Mapping[str, Any], label: str, **context: Any) -> Any:
    """``factory(**params)``, adding ``where``/``seed`` when it takes them, explaining bad params."""
    try:
        accepted = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        accepted = {}
    extra = {k: v for k, v in context.items() if k in accepted and k not in params}
    try:
        return factory(**params, **extra)
    except TypeError as exc:
        raise DataError(f"{label}: bad parameters {dict(params)!r}: {exc}") from None


def _single(section: Any, where: str) -> tuple[str, Mapping[str, Any]]:
    if isinstance(section, str):
        return section, {}
    if not isinstance(section, Mapping) or len(section) != 1:
        raise DataError(
            f"{where}: expected one entry such as {{ImageFolder: {{root: ...}}}}, got {section!r}"
        )
    name, params = next(iter(section.items()))
    if params is not None and not isinstance(params, Mapping):
        raise DataError(f"{where}.{name}: expected a mapping of parameters, got {params!r}")
    return str(name), params or {}


def build_transforms(section: Mapping[str, Any] | None, where: str) -> list[Any]:
    """Transforms in the order the config lists them (YAML mappings keep their order)."""
    out = []
    for name, params in (section or {}).items():
        factory, _ = _lookup("lpot.transforms", str(name), f"{where}.{name}")
        if params is not None and not isinstance(params, Mapping):
            raise DataError(f"{where}.{name}: expected a mapping of parameters, got {params!r}")
        out.append(_call(factory, params or {}, f"{where}.{name}"))
    return out


def build_dataset(section: Any, where: str, seed: int = 0) -> Any:
    name, params = _single(section, where)
    factory, name = _lookup("lpot.datasets", name, where)
    return _call(factory, params, f"{where}.{name}", where=f"{where}.{name}", seed=seed)


def build_dataloader(section: Mapping[str, Any], *, where: str, seed: int = 0) -> DatasetLoader:
    """A loader from a config ``dataloader`` section; ``where`` is its key path for messages."""
    if not isinstance(section, Mapping):
        raise DataError(f"{where}: expected a mapping, got {section!r}")
    unknown = set(section) - {"batch_size", "last_batch", "shuffle", "dataset", "transform", "filter"}
    if unknown:
        raise DataError(
            f"{where}: unknown key {sorted(unknown)[0]!r}; expected batch_size, dataset, transform, ..."
        )
    if "dataset" not in section:
        raise DataError(f"{where}.dataset: missing; name a dataset such as {{ImageFolder: {{root: /path}}}}")
    if section.get("filter"):
        raise DataError(f"{where}.filter: dataset filters are not supported by lpot yet; remove the section")
    return DatasetLoader(
        build_dataset(section["dataset"], f"{where}.dataset", seed),
        batch_size=section.get("batch_size", 1),
        last_batch=section.get("last_batch", "keep"),
        shuffle=bool(section.get("shuffle", False)),
        transforms=build_transforms(section.get("transform"), f"{where}.transform"),
        seed=seed,
    )
