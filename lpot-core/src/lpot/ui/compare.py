"""Several runs side by side: FP32 and tuned accuracy, latency and size of each, in one table.

Latency comes from the run's newest benchmark when it has one (FP32 and tuned measured side by
side), else from the tuning objective when that was latency; size from the model files (or the
objective, when it was model size). Numbers that are not known stay empty rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lpot.ui.workspaces import RunView, tuned_model


def file_size(path: Path | None) -> int | None:
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _benchmarked(run: RunView) -> dict[str, Any] | None:
    for entry in run.benchmarks:  # newest first
        results = (entry.get("result") or {}).get("results") or {}
        if {"fp32", "tuned"} <= set(results):
            return entry
    return None


def comparison_rows(runs: Sequence[RunView]) -> list[dict[str, Any]]:
    """Two rows per run (``fp32``, ``tuned``) with accuracy, latency, size and where each came from."""
    rows = []
    for run in runs:
        report = run.report
        best = report.best if report else None
        objective = run.meta.get("objective")
        bench = _benchmarked(run)
        fp32_file = run.path / run.record.model if run.record and run.record.model else None
        values = {
            "fp32": (
                report.baseline_accuracy if report else None,
                report.baseline_objective if report else None,
            ),
            "tuned": (best.accuracy if best else None, best.objective if best else None),
        }
        sizes = {"fp32": file_size(fp32_file), "tuned": file_size(tuned_model(run.path))}
        for model, (accuracy, objective_value) in values.items():
            latency, source = None, ""
            if bench is not None:
                result = bench["result"]["results"][model]
                latency, source = result["latency_ms"], f"benchmark, batch {result['batch_size']}"
            elif objective == "performance" and objective_value is not None:
                latency, source = objective_value, "tuning objective"
            size = sizes[model]
            if size is None and objective == "model_size" and objective_value is not None:
                size = int(objective_value)
            rows.append(
                {
                    "run": run.name,
                    "id": run.id,
                    "model": model,
                    "status": run.status,
                    "strategy": run.meta.get("strategy"),
                    "accuracy": accuracy,
                    "latency_ms": latency,
                    "latency_source": source,
                    "size_bytes": size,
                    "trial": best.index if best and model == "tuned" else None,
                }
            )
    return rows
