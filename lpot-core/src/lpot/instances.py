"""Benchmarking, whatever the framework: which batches to time, which cores each instance gets,
pinned instances started together, and their timings folded into one result.

As in the original tool's benchmark config: ``num_instances`` processes, each with
``cores_per_instance`` intra-op threads pinned to its own cores, throughput summed over instances.
An engine supplies only ``set_threads``, ``runner`` (one prepared batch as a call to time), and
``save``/``read`` so a fresh process can load the model; the rest is here, once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpot.data import batch_size_of, split_batch
from lpot.errors import DataError


@dataclass(frozen=True, kw_only=True)
class BenchmarkResult:
    """Latency (ms per batch) and throughput (samples/s), summed over instances for throughput."""

    latency_ms: float
    latency_p90_ms: float
    throughput: float
    batch_size: int
    iterations: int
    num_instances: int = 1
    cores_per_instance: int | None = None
    per_instance: tuple[float, ...] = field(default_factory=tuple)
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__, per_instance=list(self.per_instance))


def benchmark(
    backend: Any,
    model: Any,
    dataloader: Iterable[Any],
    cores_per_instance: int | None,
    num_instances: int,
    warmup: int,
    iterations: int,
    max_batches: int = 8,
) -> BenchmarkResult:
    """``backend``'s engine timing ``model``: in this process, or one pinned process per instance."""
    batches, batch = benchmark_batches(dataloader, max_batches)
    per, groups = core_groups(num_instances, cores_per_instance)
    engine = backend.engine
    if len(groups) == 1:
        engine.set_threads(per)
        try:
            per_instance = [_timings(engine, model, batches, warmup, iterations)]
        finally:
            engine.set_threads(None)
    else:
        ref = backend.registered or engine  # a registered engine is loaded again by name
        with tempfile.TemporaryDirectory(prefix="lpot-bench-") as tmp:
            source = _transport(engine, model, Path(tmp))
            args = [(ref, source, batches, g, warmup, iterations) for g in groups]
            per_instance = run_instances(_instance, args)
    return summarize(per_instance, batch_size=batch, iterations=iterations, cores_per_instance=per)


def _timings(engine: Any, model: Any, batches: Sequence[Any], warmup: int, iterations: int) -> list[float]:
    run = engine.runner(model)
    calls = [run(b) for b in batches]  # input conversion stays outside the timed calls
    return time_calls(lambda call: call(), calls, warmup, iterations)


def _transport(engine: Any, model: Any, folder: Path) -> Any:
    """How a fresh process gets the model: the object itself, pickled by multiprocessing from this
    process to its own child (never a file a user handed us), or, where the framework's objects do
    not pickle, the engine's saved artifact (a path the child reads)."""
    import pickle

    try:
        return ("pickle", pickle.dumps(model))  # unpickled in the child after its threads are set
    except Exception:
        return ("file", str(engine.save(model, folder)))


def _instance(args: tuple[Any, ...]) -> list[float]:
    """One benchmark instance in a fresh process: pin, set threads, load, wait for the others, time."""
    ref, source, batches, cores, warmup, iterations, barrier = args
    pin(cores)
    if isinstance(ref, str):
        from lpot.plugins import load_engine

        engine = load_engine(ref)
    else:
        engine = ref
    engine.set_threads(len(cores))  # before the framework loads a model: some fix their pools then
    kind, value = source
    if kind == "pickle":
        import pickle

        model = pickle.loads(value)  # noqa: S301 - the parent's own object, sent to its own child
    else:
        model = engine.read(Path(value))
    barrier.wait()  # start timing together, as concurrent instances would run in production
    return _timings(engine, model, batches, warmup, iterations)


def benchmark_batches(dataloader: Iterable[Any], max_batches: int = 8) -> tuple[list[Any], int]:
    """Up to ``max_batches`` input batches of one size (a short last batch would skew latency)."""
    batches = [split_batch(b)[0] for b in itertools.islice(dataloader, max_batches)]
    if not batches:
        raise DataError("the benchmark dataloader yielded no batch")
    size = batch_size_of(batches[0])
    return [b for b in batches if batch_size_of(b) == size], size


def time_calls(
    run: Callable[[Any], Any], batches: Sequence[Any], warmup: int, iterations: int
) -> list[float]:
    """Milliseconds per ``run(batch)``, cycling through ``batches`` after ``warmup`` untimed calls:
    the one timing loop every backend's benchmark uses (``run`` must return only when done)."""
    cycle = itertools.cycle(batches)
    for _ in range(warmup):
        run(next(cycle))
    times = []
    for _ in range(iterations):
        batch = next(cycle)
        start = time.perf_counter()
        run(batch)
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def core_groups(num_instances: int, cores_per_instance: int | None) -> tuple[int, list[list[int]]]:
    """(cores per instance, the cores of each instance), from the cores this process may use."""
    cores = (
        sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else list(range(os.cpu_count() or 1))
    )
    num_instances = max(1, num_instances)
    per = cores_per_instance or max(1, len(cores) // num_instances)
    return per, [[cores[(i * per + j) % len(cores)] for j in range(per)] for i in range(num_instances)]


def pin(cores: Sequence[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, list(cores))


def run_instances(
    worker: Callable[[tuple[Any, ...]], list[float]], args: Sequence[tuple[Any, ...]]
) -> list[list[float]]:
    """``worker(args[i] + (barrier,))`` in one spawned process per instance; the worker pins itself,
    loads its model, then waits on the barrier so that every instance times at the same moment."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(len(args))
        with ctx.Pool(len(args)) as pool:
            return pool.map(worker, [(*a, barrier) for a in args])


def summarize(
    per_instance: Sequence[Sequence[float]], *, batch_size: int, iterations: int, cores_per_instance: int
) -> BenchmarkResult:
    """Per-instance medians (robust to scheduler hiccups), percentiles over every timing."""
    import numpy as np

    medians = [statistics.median(t) for t in per_instance]
    every = [t for ts in per_instance for t in ts]
    return BenchmarkResult(
        latency_ms=statistics.fmean(medians),
        latency_p90_ms=float(np.percentile(every, 90)),
        latency_p50_ms=float(np.percentile(every, 50)),
        latency_p99_ms=float(np.percentile(every, 99)),
        throughput=sum(batch_size * 1000.0 / m for m in medians),
        batch_size=batch_size,
        iterations=iterations,
        num_instances=len(per_instance),
        cores_per_instance=cores_per_instance,
        per_instance=tuple(medians),
    )
