"""Schema of the ``evaluation`` section: the accuracy metric and the performance measurement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lpot.config import _checks as c
from lpot.config._checks import DATALOADER, validated, without_none

# evaluation.performance.configs keys lpot accepts and keeps (in ``extra``) without using them.
THREAD_KEYS = ("inter_num_of_threads", "intra_num_of_threads", "kmp_blocktime", "kmp_affinity")

# An evaluation dataloader yielding more batches than this is taken for an endless one (a generator
# with no end, a sampler that repeats): the run stops with a DataError naming the key to raise.
DEFAULT_MAX_BATCHES = 100_000

_set = object.__setattr__


@dataclass(frozen=True, kw_only=True)
class MetricConfig:
    """A metric by name (resolved later through the ``lpot.metrics`` entry points): ``{topk: 1}`` is
    ``MetricConfig(name="topk", params={"k": 1})``. Names are lowercased (``COCOmAP`` -> ``cocomap``),
    except import paths of user metrics (``"my_pkg.metrics:MyMetric"``)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @validated
    def __post_init__(self) -> None:
        name = c.text(self.name, "name")
        _set(self, "name", name if ":" in name else name.lower())  # an import path keeps its case
        _set(self, "params", c.mapping(self.params, "params") or {})

    def to_dict(self) -> dict[str, Any]:
        return {self.name: dict(self.params)}


@dataclass(frozen=True, kw_only=True)
class AccuracyConfig:
    """``evaluation.accuracy``: the metric and where its data comes from (sub-trees kept raw).
    ``max_batches`` caps one evaluation pass (:data:`DEFAULT_MAX_BATCHES`): an endless loader ends
    the run with a DataError instead of running forever."""

    metric: MetricConfig | None = None
    dataloader: Mapping[str, Any] | None = None
    postprocess: Mapping[str, Any] | None = None
    configs: Mapping[str, Any] | None = None
    max_batches: int = DEFAULT_MAX_BATCHES

    @validated
    def __post_init__(self) -> None:
        c.instance(self.metric, MetricConfig, "metric", optional=True)
        c.integer(self.max_batches, "max_batches")
        _set(self, "dataloader", c.mapping(self.dataloader, "dataloader", DATALOADER))
        _set(self, "postprocess", c.mapping(self.postprocess, "postprocess", "such as {transform: {...}}"))
        _set(self, "configs", c.mapping(self.configs, "configs"))

    def to_dict(self) -> dict[str, Any]:
        metric = self.metric.to_dict() if self.metric else None
        return without_none(
            {
                "metric": metric,
                "dataloader": self.dataloader,
                "postprocess": self.postprocess,
                "configs": self.configs,
                "max_batches": None if self.max_batches == DEFAULT_MAX_BATCHES else self.max_batches,
            }
        )


@dataclass(frozen=True, kw_only=True)
class PerformanceConfig:
    """``evaluation.performance``; ``cores_per_instance`` etc. come from its ``configs:`` sub-map.

    ``iteration: -1`` (LPOT's value) means the whole dataloader. The thread settings
    (``THREAD_KEYS``) are kept in ``extra`` and not used by lpot.
    """

    warmup: int = 5
    iteration: int = 50
    cores_per_instance: int | None = None
    num_of_instance: int = 1
    dataloader: Mapping[str, Any] | None = None
    postprocess: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @validated
    def __post_init__(self) -> None:
        c.integer(self.warmup, "warmup", minimum=0)
        if self.iteration != -1:
            c.integer(self.iteration, "iteration")
        if self.cores_per_instance is not None:
            c.integer(self.cores_per_instance, "configs.cores_per_instance")
        c.integer(self.num_of_instance, "configs.num_of_instance")
        _set(self, "dataloader", c.mapping(self.dataloader, "dataloader", DATALOADER))
        _set(self, "postprocess", c.mapping(self.postprocess, "postprocess", "such as {transform: {...}}"))
        extra = c.mapping(self.extra, "configs") or {}
        c.check_keys(extra, ("cores_per_instance", "num_of_instance", *THREAD_KEYS), prefix="configs.")
        for key, value in extra.items():
            if key in ("cores_per_instance", "num_of_instance"):
                raise c.InvalidField(f"configs.{key}", f"is a field of {type(self).__name__}, not an extra")
            if key == "kmp_affinity":
                c.text(value, f"configs.{key}")
            else:
                c.integer(value, f"configs.{key}", minimum=0)
        _set(self, "extra", extra)

    def to_dict(self) -> dict[str, Any]:
        configs = {"cores_per_instance": self.cores_per_instance, "num_of_instance": self.num_of_instance}
        out = {
            "warmup": self.warmup,
            "iteration": self.iteration,
            "configs": {**without_none(configs), **self.extra},
            "dataloader": self.dataloader,
            "postprocess": self.postprocess,
        }
        return without_none(out)


@dataclass(frozen=True, kw_only=True)
class EvaluationConfig:
    accuracy: AccuracyConfig | None = None
    performance: PerformanceConfig | None = None

    @validated
    def __post_init__(self) -> None:
        c.instance(self.accuracy, AccuracyConfig, "accuracy", optional=True)
        c.instance(self.performance, PerformanceConfig, "performance", optional=True)

    def to_dict(self) -> dict[str, Any]:
        return without_none(
            {
                "accuracy": self.accuracy.to_dict() if self.accuracy else None,
                "performance": self.performance.to_dict() if self.performance else None,
            }
        )
