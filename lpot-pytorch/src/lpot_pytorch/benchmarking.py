"""Latency and throughput: one instance in-process, or several pinned processes running TorchScript.

As in the original tool's benchmark config: ``num_instances`` processes, each with
``cores_per_instance`` intra-op threads pinned to its own cores, throughput summed over instances.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from lpot.backend import BenchmarkResult
from lpot.data import batch_size_of, split_batch
from lpot.errors import DataError
from lpot_pytorch.tensors import call, to_torch


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def timings(model: Any, batches: list[Any], n_threads: int, warmup: int, iterations: int) -> list[float]:
    cycle = itertools.cycle(batches)
    times = []
    with threads(n_threads), torch.inference_mode():
        for _ in range(warmup):
            call(model, next(cycle))
        for _ in range(iterations):
            batch = next(cycle)
            start = time.perf_counter()
            call(model, batch)
            times.append((time.perf_counter() - start) * 1000.0)
    return times


def _instance(args: tuple[bytes, list[Any], list[int], int, int, Any]) -> list[float]:
    script, batches, cores, warmup, iterations, barrier = args
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    model = torch.jit.load(io.BytesIO(script))
    barrier.wait()  # start timing together, as concurrent instances would run in production
    return timings(model, batches, len(cores), warmup, iterations)


def benchmark(
    model: Any,
    dataloader: Iterable[Any],
    *,
    cores_per_instance: int | None = None,
    num_instances: int = 1,
    warmup: int = 5,
    iterations: int = 50,
    max_batches: int = 8,
    example: Any = None,
) -> BenchmarkResult:
    batches = [to_torch(split_batch(b)[0]) for b in itertools.islice(dataloader, max_batches)]
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
    if num_instances == 1:
        per_instance = [timings(model, batches, per, warmup, iterations)]
    else:
        from lpot_pytorch.serialization import script_bytes

        script = script_bytes(model, example if example is not None else batches[0])
        groups = [[cores[(i * per + j) % len(cores)] for j in range(per)] for i in range(num_instances)]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(num_instances)
            with ctx.Pool(num_instances) as pool:
                per_instance = pool.map(
                    _instance, [(script, batches, g, warmup, iterations, barrier) for g in groups]
                )
    medians = [statistics.median(t) for t in per_instance]  # robust to scheduler hiccups
    every = [t for ts in per_instance for t in ts]
    return BenchmarkResult(
        latency_ms=statistics.fmean(medians),
        latency_p90_ms=float(np.percentile(every, 90)),
        latency_p50_ms=float(np.percentile(every, 50)),
        latency_p99_ms=float(np.percentile(every, 99)),
        throughput=sum(batch * 1000.0 / m for m in medians),
        batch_size=batch,
        iterations=iterations,
        num_instances=num_instances,
        cores_per_instance=per,
        per_instance=tuple(medians),
    )
