"""Latency and throughput of a Gluon net: in-process, or several pinned processes in parallel.

MXNet reads its OpenMP thread count when it is imported, so each extra instance is a fresh
``spawn`` process that sets ``OMP_NUM_THREADS`` and its CPU affinity before importing mxnet, then
loads the model from MXNet's export bytes (never a pickle).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lpot.backend import BenchmarkResult
from lpot.instances import benchmark_batches, core_groups, pin, run_instances, summarize, time_calls


def time_block(block: Any, batches: list[Any], warmup: int, iterations: int) -> list[float]:
    """Milliseconds per batch; ``wait_to_read`` makes MXNet's asynchronous engine finish each call."""
    from lpot_mxnet.graph import to_ndarrays

    names = [s.name for s in block._cached_graph[0]] if getattr(block, "_cached_graph", ()) else None
    prepared = [to_ndarrays(b, names) for b in batches]
    return time_calls(lambda arrays: _wait(block(*arrays)), prepared, warmup, iterations)


def _wait(out: Any) -> None:
    for array in out if isinstance(out, (list, tuple)) else [out]:
        array.wait_to_read()


def _instance(args: tuple[bytes, bytes, list[Any], list[int], int, int, bool, Any]) -> list[float]:
    symbol, params, batches, cores, warmup, iterations, amx, barrier = args
    os.environ["OMP_NUM_THREADS"] = str(len(cores))
    pin(cores)
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
    batches, batch = benchmark_batches(dataloader, max_batches)
    per, groups = core_groups(num_instances, cores_per_instance)
    if len(groups) == 1:
        per_instance = [time_block(model, batches, warmup, iterations)]
    else:
        from lpot_mxnet.amx import amx_enabled
        from lpot_mxnet.model_io import export_bytes

        symbol, params = export_bytes(model)
        args = [(symbol, params, batches, g, warmup, iterations, amx_enabled()) for g in groups]
        per_instance = run_instances(_instance, args)
    return summarize(per_instance, batch_size=batch, iterations=iterations, cores_per_instance=per)
