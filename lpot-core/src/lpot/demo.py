"""The embedded default: a real model and data set that a backend package builds in seconds.

Backends register a zero-argument factory under the ``lpot.demos`` entry-point group that returns
a :class:`DemoSpec`; ``lpot demo`` tunes it and prints what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class DemoSpec:
    """Everything ``lpot demo`` needs: model, calibration and evaluation data, and a config."""

    name: str
    description: str
    model: Any
    q_dataloader: Iterable[Any]
    eval_dataloader: Iterable[Any]
    config: Mapping[str, Any] = field(default_factory=dict)
    bench_dataloader: Iterable[Any] | None = None


def run_demo(
    name: str | None = None, *, workspace: str = "lpot_demo_workspace", progress: bool = True
) -> str:
    """Build the demo, tune it, and return a report comparing FP32 with the tuned model."""
    import time

    from lpot import plugins
    from lpot.api import tune
    from lpot.errors import PluginError
    from lpot.report import table

    demos = plugins.available("lpot.demos")
    if not demos:
        raise PluginError(
            "no demo is installed: demos come with backend packages (pip install 'lpot-<framework>[demo]')"
        )
    chosen = name or sorted(demos)[0]
    t0 = time.monotonic()
    spec: DemoSpec = plugins.load("lpot.demos", chosen)()
    built_s = time.monotonic() - t0
    config = {**spec.config, "tuning": {**spec.config.get("tuning", {}), "workspace": {"path": workspace}}}
    result = tune(
        spec.model,
        q_dataloader=spec.q_dataloader,
        eval_dataloader=spec.eval_dataloader,
        config=config,
        progress=progress,
    )
    backend = result._backend
    fp32 = backend.load(spec.model)
    rows = []
    bench = spec.bench_dataloader or spec.eval_dataloader
    for label, loader, iterations in (("batch 1", _first_samples(bench, 1), 300), ("eval batch", bench, 60)):
        a = backend.benchmark(fp32, loader, warmup=10, iterations=iterations)
        b = backend.benchmark(result.model, loader, warmup=10, iterations=iterations)
        rows.append([f"latency {label} (ms)", a.latency_ms, b.latency_ms, a.latency_ms / b.latency_ms])
    size_a, size_b = backend.model_size(fp32), backend.model_size(result.model)
    rows.append(["size (bytes)", size_a, size_b, size_a / size_b])
    rows.append(
        ["accuracy", result.baseline_accuracy, result.accuracy, result.accuracy / result.baseline_accuracy]
    )
    lines = [
        f"demo {spec.name}: {spec.description} (built in {built_s:.1f}s)",
        "",
        table(["", "FP32", "tuned", "FP32/tuned"], rows),
        "",
        f"status: {result.status} ({result.stop_reason}); trials: {len(result.trials)}; "
        f"calibration passes: {result.calibration_passes}; tuning time: {result.elapsed_s:.1f}s",
        f"int8 ops: {len(result.recipe.quantized_ops())}, fp32 ops: {len(result.recipe.fp32_ops())}",
        f"workspace: {result.workspace} (best model in {result.workspace / 'best_model'}; `lpot report {result.workspace}`)",
    ]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _first_samples(loader: Iterable[Any], n: int) -> list[tuple[Any, Any]]:
    """A few single-sample batches cut from the first batch, for batch-1 latency."""
    from lpot.data import LimitedLoader, split_batch

    inputs, labels = split_batch(next(iter(loader)))
    return [next(iter(LimitedLoader([(inputs, labels)], n)))]
