"""The embedded default: a real model and data set that a backend package ships or builds.

Backends register a :class:`Demo` under the ``lpot.demos`` entry-point group: a headline that
``lpot demo`` says at once, before any framework loads, and a builder that returns a
:class:`DemoSpec`. ``lpot demo`` tunes it, says each stage as it starts, and prints what changed.
A plain zero-argument factory returning a :class:`DemoSpec` is accepted too (earlier plugins).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Say = Callable[[str], None]


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


@dataclass(frozen=True, kw_only=True)
class Demo:
    """What a backend registers: ``build(rebuild=, say=)`` may take minutes when it has to build the
    model, so the headline is said first; ``rebuild`` asks it to build even when it ships a copy."""

    headline: str
    build: Callable[..., DemoSpec]


def silent(_line: str) -> None:
    """``say`` for ``--quiet``: the stages are not told, only the final report is printed."""


def load_demo(name: str | None = None) -> tuple[str, Demo]:
    """The installed demo ``name`` (default: the first by name), imported but not built."""
    from lpot import plugins
    from lpot.errors import PluginError

    demos = plugins.available("lpot.demos")
    if not demos:
        raise PluginError(
            "no demo is installed: demos come with backend packages (pip install 'lpot-<framework>[demo]')"
        )
    chosen = name or sorted(demos)[0]
    found = plugins.load("lpot.demos", chosen)
    if isinstance(found, Demo):
        return chosen, found
    return chosen, Demo(headline=f"tuning the {chosen!r} demo", build=lambda **_: found())


def run_demo(
    name: str | None = None,
    *,
    workspace: str = "lpot_demo_workspace",
    progress: bool = True,
    rebuild: bool = False,
    say: Say = silent,
) -> str:
    """Build (or load) the demo, tune it, and return a report comparing FP32 with the tuned model.

    ``say`` hears one line as each stage starts, the first before any framework is imported.
    """
    from lpot.api import tune

    t0 = time.monotonic()
    _, demo = load_demo(name)
    say(f"lpot demo: {demo.headline} …")
    spec: DemoSpec = demo.build(rebuild=rebuild, say=say)
    built_s = time.monotonic() - t0
    say(f"{spec.description}; ready in {built_s:.1f}s")
    max_trials = spec.config.get("tuning", {}).get("exit_policy", {}).get("max_trials")
    say(f"tuning: FP32 baseline, then up to {max_trials or 'the default number of'} INT8 recipes …")
    config = {**spec.config, "tuning": {**spec.config.get("tuning", {}), "workspace": {"path": workspace}}}
    t1 = time.monotonic()
    result = tune(
        spec.model,
        q_dataloader=spec.q_dataloader,
        eval_dataloader=spec.eval_dataloader,
        config=config,
        progress=progress,
    )
    say(_outcome(result, time.monotonic() - t1))
    say("measuring latency and size, FP32 next to tuned …")
    lines = [
        f"demo {spec.name}: {spec.description} (ready in {built_s:.1f}s)",
        "",
        _comparison(result, spec),
        "",
        f"status: {result.status} ({result.stop_reason}); trials: {len(result.trials)}; "
        f"calibration passes: {result.calibration_passes}; tuning time: {result.elapsed_s:.1f}s",
        f"int8 ops: {len(result.recipe.quantized_ops())}, fp32 ops: {len(result.recipe.fp32_ops())}",
        f"workspace: {result.workspace} (best model in {result.workspace / 'best_model'}; `lpot report {result.workspace}`)",
    ]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _outcome(result: Any, tuning_s: float) -> str:
    """The first result, said as soon as tuning ends (the latency comparison takes a while longer)."""
    ops = len(result.recipe.quantized_ops()) + len(result.recipe.fp32_ops())
    return (
        f"tuned in {tuning_s:.0f}s ({result.status}): accuracy FP32 {result.baseline_accuracy:.4f} -> "
        f"tuned {result.accuracy:.4f}, {len(result.recipe.quantized_ops())} of {ops} ops in INT8, "
        f"{len(result.trials)} trial{'' if len(result.trials) == 1 else 's'}"
    )


def _comparison(result: Any, spec: DemoSpec) -> str:
    """The FP32-vs-tuned table: latency at batch 1 and at the evaluation batch, size, accuracy,
    each with its unit and the change said the way it goes ("1.3x faster", "3.7x smaller")."""
    from lpot.data import batch_size_of
    from lpot.report import table
    from lpot.report.figures import quantity, ratio_phrase

    backend = result._backend
    fp32 = backend.load(spec.model)
    rows = []
    bench = spec.bench_dataloader or spec.eval_dataloader
    batch = batch_size_of(next(iter(bench))[0])
    for label, loader, iterations in ((1, _first_samples(bench, 1), 300), (batch, bench, 60)):
        a = backend.benchmark(fp32, loader, warmup=10, iterations=iterations)
        b = backend.benchmark(result.model, loader, warmup=10, iterations=iterations)
        rows.append(
            [
                f"latency at batch {label}",
                quantity(a.latency_ms, "ms"),
                quantity(b.latency_ms, "ms"),
                ratio_phrase(a.latency_ms, b.latency_ms, "ms", False),
            ]
        )
    size_a, size_b = backend.model_size(fp32), backend.model_size(result.model)
    rows.append(
        [
            "size",
            quantity(size_a, "bytes"),
            quantity(size_b, "bytes"),
            ratio_phrase(size_a, size_b, "bytes", False),
        ]
    )
    change = result.accuracy - result.baseline_accuracy
    rows.append(["accuracy", f"{result.baseline_accuracy:.4f}", f"{result.accuracy:.4f}", f"{change:+.4f}"])
    return table(["", "FP32", "tuned", "tuned vs FP32"], rows)


def _first_samples(loader: Iterable[Any], n: int) -> list[tuple[Any, Any]]:
    """A few single-sample batches cut from the first batch, for batch-1 latency."""
    from lpot.data import LimitedLoader, split_batch

    inputs, labels = split_batch(next(iter(loader)))
    return [next(iter(LimitedLoader([(inputs, labels)], n)))]
