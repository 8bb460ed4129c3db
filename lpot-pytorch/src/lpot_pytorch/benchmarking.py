"""Latency and throughput: one instance in-process, or several pinned processes running TorchScript.

As in the original tool's benchmark config: ``num_instances`` processes, each with
``cores_per_instance`` intra-op threads pinned to its own cores, throughput summed over instances.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from lpot.backend import BenchmarkResult
from lpot.instances import benchmark_batches, core_groups, pin, run_instances, summarize, time_calls
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
    with threads(n_threads), torch.inference_mode():
        return time_calls(lambda batch: call(model, batch), batches, warmup, iterations)


def _instance(args: tuple[bytes, list[Any], list[int], int, int, Any]) -> list[float]:
    script, batches, cores, warmup, iterations, barrier = args
    pin(cores)
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
    batches, batch = benchmark_batches(dataloader, max_batches)
    batches = [to_torch(b) for b in batches]
    per, groups = core_groups(num_instances, cores_per_instance)
    if len(groups) == 1:
        per_instance = [timings(model, batches, per, warmup, iterations)]
    else:
        from lpot_pytorch.serialization import script_bytes

        script = script_bytes(model, example if example is not None else batches[0])
        per_instance = run_instances(_instance, [(script, batches, g, warmup, iterations) for g in groups])
    return summarize(per_instance, batch_size=batch, iterations=iterations, cores_per_instance=per)
