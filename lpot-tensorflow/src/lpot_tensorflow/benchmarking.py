"""Latency and throughput: one instance in-process, or several pinned processes.

Each extra instance is a ``spawn``ed process that loads the model from a temporary file (``.tflite``
or ``.keras``), pins itself to its own cores and runs with that many threads; throughput is summed.
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


def timings(model: Any, batches: list[Any], warmup: int, iterations: int) -> list[float]:
    from lpot_tensorflow.tensors import run

    cycle = itertools.cycle(batches)
    for _ in range(warmup):
        run(model, next(cycle))
    times = []
    for _ in range(iterations):
        batch = next(cycle)
        start = time.perf_counter()
        run(model, batch)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def _instance(args: tuple[str, list[Any], list[int], int, int, Any]) -> list[float]:
    file, batches, cores, warmup, iterations, barrier = args
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    from lpot_tensorflow.runtime import TFLiteModel
    from lpot_tensorflow.serialization import load

    model = load(Path(file))
    if isinstance(model, TFLiteModel):
        model.num_threads = len(cores)
    else:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(len(cores))
    barrier.wait()
    return timings(model, batches, warmup, iterations)


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
    batches = [b for b in batches if batch_size_of(b) == batch]
    cores = (
        sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else list(range(os.cpu_count() or 1))
    )
    num_instances = max(1, num_instances)
    per = cores_per_instance or max(1, len(cores) // num_instances)
    if num_instances == 1:
        per_instance = [timings(model, batches, warmup, iterations)]
    else:
        from lpot_tensorflow.serialization import save

        with tempfile.TemporaryDirectory() as tmp:
            file = save(model, Path(tmp))
            groups = [[cores[(i * per + j) % len(cores)] for j in range(per)] for i in range(num_instances)]
            ctx = multiprocessing.get_context("spawn")
            with ctx.Manager() as manager:
                barrier = manager.Barrier(num_instances)
                with ctx.Pool(num_instances) as pool:
                    per_instance = pool.map(
                        _instance, [(str(file), batches, g, warmup, iterations, barrier) for g in groups]
                    )
    medians = [statistics.median(t) for t in per_instance]
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
