"""Latency and throughput, one instance in-process or several in parallel pinned processes.

As in the original tool's benchmark config: ``num_instances`` processes, each with
``cores_per_instance`` intra-op threads pinned to its own cores, throughput summed over instances.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import onnx

from lpot.backend import BenchmarkResult
from lpot.data import batch_size_of, split_batch
from lpot.errors import DataError
from lpot_onnxrt.sessions import feeds, make_session


def _timings(
    model_bytes: bytes, batches: list[Any], threads: int | None, warmup: int, iterations: int
) -> list[float]:
    session = make_session(model_bytes, threads)
    prepared = [feeds(session, b) for b in batches]
    cycle = itertools.cycle(prepared)
    for _ in range(warmup):
        session.run(None, next(cycle))
    times = []
    for _ in range(iterations):
        feed = next(cycle)
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _instance(args: tuple[bytes, list[Any], list[int], int, int, Any]) -> list[float]:
    model_bytes, batches, cores, warmup, iterations, barrier = args
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
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
    batches = [split_batch(b)[0] for b in itertools.islice(dataloader, max_batches)]
    if not batches:
        raise DataError("the benchmark dataloader yielded no batch")
    batch = batch_size_of(batches[0])
    batches = [b for b in batches if batch_size_of(b) == batch]  # a short last batch would skew latency
    cores = (
        sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else list(range(os.cpu_count() or 1))
    )
    num_instances = max(1, num_instances)
    per = cores_per_instance or max(1, len(cores) // num_instances)
    data = model.SerializeToString()
    if num_instances == 1:
        per_instance = [_timings(data, batches, per, warmup, iterations)]
    else:
        groups = [[cores[(i * per + j) % len(cores)] for j in range(per)] for i in range(num_instances)]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(num_instances)
            with ctx.Pool(num_instances) as pool:
                per_instance = pool.map(
                    _instance, [(data, batches, g, warmup, iterations, barrier) for g in groups]
                )
    means = [statistics.median(t) for t in per_instance]  # robust to scheduler hiccups
    every = [t for ts in per_instance for t in ts]
    return BenchmarkResult(
        latency_ms=statistics.fmean(means),
        latency_p90_ms=float(np.percentile(every, 90)),
        latency_p50_ms=float(np.percentile(every, 50)),
        latency_p99_ms=float(np.percentile(every, 99)),
        throughput=sum(batch * 1000.0 / m for m in means),
        batch_size=batch,
        iterations=iterations,
        num_instances=num_instances,
        cores_per_instance=per,
        per_instance=tuple(means),
    )
