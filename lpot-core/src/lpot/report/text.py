"""Plain-text reports: the summary of a result and the trials table of a workspace."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpot.trial import Trial
from lpot.tuning.history import read_workspace

if TYPE_CHECKING:
    from lpot.tuning.result import TuningResult


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join([line, rule, *body])


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def trials_table(trials: Sequence[Trial], best: int | None = None, objective_name: str = "objective") -> str:
    rows = []
    for t in trials:
        s = t.summary()
        status = t.status if not t.error else f"{t.status}: {t.error[:60]}"
        rows.append(
            [
                "*" if t.index == best else "",
                t.index,
                t.label,
                t.accuracy,
                t.met,
                t.objective,
                s["int8_ops"],
                s["fp32_ops"],
                status,
            ]
        )
    headers = ["best", "trial", "stage", "accuracy", "met", objective_name, "int8 ops", "fp32 ops", "status"]
    return table(headers, rows)


def result_summary(result: TuningResult) -> str:
    ratio = result.objective_ratio
    lines = [
        f"status: {result.status} ({result.stop_reason})",
        f"accuracy: FP32 {result.baseline_accuracy:.4f} -> tuned {result.accuracy:.4f} (goal {result.goal:.4f})",
        f"{result.objective_name}: FP32 {_cell(result.baseline_objective)} -> tuned {_cell(result.objective)}"
        + (f" ({ratio:.2f}x better)" if ratio else ""),
        f"trials: {len(result.trials)}, calibration passes: {result.calibration_passes}, "
        f"time: {result.elapsed_s:.1f}s, workspace: {result.workspace}",
    ]
    lines += [f"warning: {w}" for w in result.warnings]
    best = result.best_trial.index if result.best_trial else None
    return "\n".join(lines) + "\n\n" + trials_table(result.trials, best, result.objective_name)


def workspace_report(workspace: str | Path) -> str:
    """The run's metadata and its trials table, read from ``<workspace>/history.sqlite``."""
    meta, baseline, trials = read_workspace(workspace)
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    lines = [
        f"workspace: {workspace}",
        f"model: {meta.get('model_name', '?')}  backend: {meta.get('backend', '?')}  ({versions})",
        f"cpu: {meta.get('cpu', '?')}  strategy: {meta.get('strategy', '?')}  criterion: {meta.get('criterion', '?')}"
        f"  objective: {meta.get('objective', '?')}",
        f"status: {meta.get('status', '?')} ({meta.get('stop_reason', 'interrupted or running')})",
    ]
    if baseline is not None:
        lines.append(f"FP32 baseline: accuracy {baseline[0]:.4f}, objective {_cell(baseline[1])}")
    lines.append("")
    lines.append(trials_table(trials, meta.get("best_trial"), meta.get("objective", "objective")))
    return "\n".join(lines)
