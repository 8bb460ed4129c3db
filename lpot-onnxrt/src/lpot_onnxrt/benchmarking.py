"""Latency and throughput, one instance in-process or several in parallel pinned processes.

As in the original tool's benchmark config: ``num_instances`` processes, each with
``cores_per_instance`` intra-op threads pinned to its own cores, throughput summed over instances.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import onnx

from lpot.backend import BenchmarkResult
from lpot.instances import benchmark_batches, core_groups, pin, run_instances, summarize, time_calls
from lpot_onnxrt.sessions import feeds, make_session


def _timings(
    model_bytes: bytes, batches: list[Any], threads: int | None, warmup: int, iterations: int
) -> list[float]:
    session = make_session(model_bytes, threads)
    prepared = [feeds(session, b) for b in batches]
    return time_calls(lambda feed: session.run(None, feed), prepared, warmup, iterations)


def _instance(args: tuple[bytes, list[Any], list[int], int, int, Any]) -> list[float]:
    model_bytes, batches, cores, warmup, iterations, barrier = args
    pin(cores)
    barrier.wait()  # start timing together, as concurrent instances would run in production
    return _timings(model_bytes, batches, len(cores), warmup, iterations)


def benchmark(
    model: onnx.ModelProto,
    dataloader: Iterable[Any],
    *,
    cores_per_instance: int | None = None,
    num_instances: int = 1,
    warmup: int = 5,
    iterations: int = 50,
    max_batches: int = 8,
) -> BenchmarkResult:
    batches, batch = benchmark_batches(dataloader, max_batches)
    per, groups = core_groups(num_instances, cores_per_instance)
    data = model.SerializeToString()
    if len(groups) == 1:
        per_instance = [_timings(data, batches, per, warmup, iterations)]
    else:
        per_instance = run_instances(_instance, [(data, batches, g, warmup, iterations) for g in groups])
    return summarize(per_instance, batch_size=batch, iterations=iterations, cores_per_instance=per)
