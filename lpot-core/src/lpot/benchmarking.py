"""``lpot.benchmark``: latency and throughput of one model, or FP32 and tuned side by side.

Settings follow the original config (``evaluation.performance``: ``warmup``, ``iteration``,
``configs.cores_per_instance``, ``configs.num_of_instance``); instances run as separate processes
pinned to disjoint cores by the backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lpot.errors import ConfigError, DataError
from lpot.instances import BenchmarkResult


@dataclass
class BenchmarkComparison:
    """Results by model label ("model", or "fp32" and "tuned"); ``speedup`` is FP32 / tuned latency."""

    results: dict[str, BenchmarkResult]

    @property
    def speedup(self) -> float | None:
        if {"fp32", "tuned"} <= set(self.results):
            return self.results["fp32"].latency_ms / self.results["tuned"].latency_ms
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"results": {k: r.to_dict() for k, r in self.results.items()}, "speedup": self.speedup}

    def table(self) -> str:
        from lpot.report.text import table

        rows = [
            [
                label,
                r.num_instances,
                r.cores_per_instance,
                r.batch_size,
                r.latency_p50_ms,
                r.latency_p90_ms,
                r.latency_p99_ms,
                r.throughput,
                "/".join(f"{v:.3g}" for v in r.per_instance) or "-",
            ]
            for label, r in self.results.items()
        ]
        headers = ["model", "instances", "cores/inst", "batch", "p50 ms", "p90 ms", "p99 ms", "throughput/s"]
        text = table([*headers, "per-instance median ms"], rows)
        if self.speedup is not None:
            from lpot.report.figures import ratio_phrase

            fp32, tuned = self.results["fp32"], self.results["tuned"]
            latency = ratio_phrase(fp32.latency_ms, tuned.latency_ms, "ms", False)
            throughput = ratio_phrase(fp32.throughput, tuned.throughput, "samples/s", True)
            text += f"\n\ntuned vs FP32: latency {latency}, throughput {throughput}"
        return text


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# what the two knobs are called where they were set: the config, a Python call, the command line
CONFIG_KNOBS = (
    "evaluation.performance.configs.cores_per_instance",
    "evaluation.performance.configs.num_of_instance",
)
CALL_KNOBS = ("cores_per_instance", "num_instances")
FLAG_KNOBS = ("--cores-per-instance", "--num-instances")


def check_cores(
    cores_per_instance: int | None, num_instances: int, names: tuple[str, str] = CONFIG_KNOBS
) -> None:
    """Refuse instances that need more cores than this process may use, in the words of ``names``
    (what the two knobs are called where the user set them)."""
    have = available_cores()
    cores_name, instances_name = names
    if num_instances < 1:
        raise ConfigError(f"{instances_name} {num_instances}: expected at least 1 instance")
    if cores_per_instance is not None and cores_per_instance < 1:
        raise ConfigError(f"{cores_name} {cores_per_instance}: expected at least 1 core per instance")
    if cores_per_instance is not None and cores_per_instance * num_instances > have:
        raise ConfigError(
            f"{instances_name} {num_instances} with {cores_name} {cores_per_instance}: {num_instances} instances "
            f"x {cores_per_instance} cores = {num_instances * cores_per_instance} cores, but this process can "
            f"use {have}; lower {cores_name} or {instances_name}"
        )
    if cores_per_instance is None and num_instances > have:
        raise ConfigError(
            f"{instances_name} {num_instances}: {num_instances} instances on {have} cores; "
            f"give at most {have} (one core each at least)"
        )


def _instances(
    perf: Any, cores_per_instance: int | None, num_instances: int | None, knobs: tuple[str, str]
) -> tuple[int | None, int]:
    """Cores per instance and instances (the call's, else the config's), checked in the words of
    wherever each was set."""
    cores = (
        cores_per_instance if cores_per_instance is not None else (perf.cores_per_instance if perf else None)
    )
    instances = num_instances if num_instances is not None else (perf.num_of_instance if perf else 1)
    names = (
        knobs[0] if cores_per_instance is not None else CONFIG_KNOBS[0],
        knobs[1] if num_instances is not None else CONFIG_KNOBS[1],
    )
    check_cores(cores, instances, names)
    return cores, instances


def _configured_data(cfg: Any) -> Any:
    """The config's performance dataloader, else its accuracy one."""
    from lpot.data.builder import build_dataloader

    perf = cfg.evaluation.performance
    section = (perf.dataloader if perf else None) or (
        cfg.evaluation.accuracy.dataloader if cfg.evaluation.accuracy else None
    )
    if not section:
        raise DataError(
            "nothing to benchmark on: pass a dataloader or declare evaluation.performance.dataloader"
        )
    return build_dataloader(section, where="evaluation.performance.dataloader", seed=cfg.tuning.random_seed)


def benchmark(
    model: Any,
    dataloader: Iterable[Any] | None = None,
    config: Any = None,
    *,
    tuned: Any = None,
    backend: Any = None,
    cores_per_instance: int | None = None,
    num_instances: int | None = None,
    warmup: int | None = None,
    iterations: int | None = None,
    progress: bool = True,
    knobs: tuple[str, str] = CALL_KNOBS,
) -> BenchmarkComparison:
    """Benchmark ``model`` (and ``tuned`` next to it, same data and settings, interleaved per model).

    ``knobs``: what the caller calls ``cores_per_instance`` and ``num_instances``, for its errors
    (the command line passes its flag names).
    """
    from lpot.config import load_config

    cfg = load_config(config)
    perf = cfg.evaluation.performance
    cores, instances = _instances(perf, cores_per_instance, num_instances, knobs)
    for name, value in (("iterations", iterations), ("warmup", warmup)):
        if value is not None and value < (0 if name == "warmup" else 1):
            raise ConfigError(
                f"benchmark {name}: expected an integer >= {0 if name == 'warmup' else 1}, got {value}"
            )
    if dataloader is None:
        dataloader = _configured_data(cfg)
    from lpot.api import resolve_backend

    chosen, _ = resolve_backend(model, cfg, backend)
    models: Mapping[str, Any] = {"fp32": model, "tuned": tuned} if tuned is not None else {"model": model}
    results = {}
    from tqdm import tqdm

    for label, m in tqdm(
        models.items(), desc="benchmarking", unit="model", leave=False, disable=not progress
    ):
        results[label] = chosen.benchmark(
            chosen.load(m),
            dataloader,
            cores_per_instance=cores,
            num_instances=instances,
            warmup=warmup if warmup is not None else (perf.warmup if perf else 5),
            iterations=iterations
            if iterations is not None
            else (perf.iteration if perf and perf.iteration > 0 else 50),
        )
    return BenchmarkComparison(results)
