"""Latency and throughput of a Gluon net: in-process, or several pinned processes in parallel.

MXNet reads its OpenMP thread count when it is imported, so each extra instance is a fresh
``spawn`` process that sets ``OMP_NUM_THREADS`` and its CPU affinity before importing mxnet, then
loads the model from MXNet's export bytes (never a pickle).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from lpot.backend import BenchmarkResult
from lpot.data import batch_size_of, split_batch
from lpot.errors import DataError


def time_block(block: Any, batches: list[Any], warmup: int, iterations: int) -> list[float]:
    """Milliseconds per batch; ``wait_to_read`` makes MXNet's asynchronous engine finish each call."""
    from lpot_mxnet.graph import to_ndarrays

    names = [s.name for s in block._cached_graph[0]] if getattr(block, "_cached_graph", ()) else None
    prepared = [to_ndarrays(b, names) for b in batches]
    cycle = itertools.cycle(prepared)
    for _ in range(warmup):
        _wait(block(*next(cycle)))
    times = []
    for _ in range(iterations):
        arrays = next(cycle)
        start = time.perf_counter()
        _wait(block(*arrays))
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _wait(out: Any) -> None:
    for array in out if isinstance(out, (list, tuple)) else [out]:
        array.wait_to_read()


def _instance(args: tuple[bytes, bytes, list[Any], list[int], int, int, Any, bool]) -> list[float]:
    symbol, params, batches, cores, warmup, iterations, barrier, amx = args
    os.environ["OMP_NUM_THREADS"] = str(len(cores))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    if amx:  # same kernels as the parent: the AMX permission does not survive exec
        from lpot_mxnet.amx import enable_amx

        enable_amx()
    from lpot_mxnet.model_io import read_model

    with tempfile.TemporaryDirectory(prefix="lpot-mx-bench-") as tmp:
        (Path(tmp) / "m-symbol.json").write_bytes(symbol)
        (Path(tmp) / "m-0000.params").write_bytes(params)
        block = read_model(Path(tmp) / "m-symbol.json")
    block.hybridize(static_alloc=True, static_shape=True)
    barrier.wait()  # start timing together, as concurrent instances would run in production
    return time_block(block, batches, warmup, iterations)


def benchmark(
    model: Any,
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
    if num_instances == 1:
        per_instance = [time_block(model, batches, warmup, iterations)]
    else:
        from lpot_mxnet.amx import amx_enabled
        from lpot_mxnet.model_io import export_bytes

        symbol, params = export_bytes(model)
        groups = [[cores[(i * per + j) % len(cores)] for j in range(per)] for i in range(num_instances)]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(num_instances)
            with ctx.Pool(num_instances) as pool:
                per_instance = pool.map(
                    _instance,
                    [
                        (symbol, params, batches, g, warmup, iterations, barrier, amx_enabled())
                        for g in groups
                    ],
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
