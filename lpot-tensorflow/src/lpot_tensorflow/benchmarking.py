"""Latency and throughput: one instance in-process, or several pinned processes.

Each extra instance is a ``spawn``ed process that loads the model from a temporary file (``.tflite``
or ``.keras``), pins itself to its own cores and runs with that many threads; throughput is summed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lpot.backend import BenchmarkResult
from lpot.instances import benchmark_batches, core_groups, pin, run_instances, summarize, time_calls


def timings(model: Any, batches: list[Any], warmup: int, iterations: int) -> list[float]:
    from lpot_tensorflow.tensors import run

    return time_calls(lambda batch: run(model, batch), batches, warmup, iterations)


def _instance(args: tuple[str, list[Any], list[int], int, int, Any]) -> list[float]:
    file, batches, cores, warmup, iterations, barrier = args
    pin(cores)
    from lpot_tensorflow.runtime import TFLiteModel
    from lpot_tensorflow.serialization import load

    if not file.endswith(".tflite"):  # TensorFlow fixes its thread pools when it initializes
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(len(cores))
    model = load(Path(file))
    if isinstance(model, TFLiteModel):
        model.num_threads = len(cores)
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
    batches, batch = benchmark_batches(dataloader, max_batches)
    per, groups = core_groups(num_instances, cores_per_instance)
    if len(groups) == 1:
        per_instance = [timings(model, batches, warmup, iterations)]
    else:
        from lpot_tensorflow.serialization import save

        with tempfile.TemporaryDirectory() as tmp:
            file = save(model, Path(tmp))
            per_instance = run_instances(
                _instance, [(str(file), batches, g, warmup, iterations) for g in groups]
            )
    return summarize(per_instance, batch_size=batch, iterations=iterations, cores_per_instance=per)
