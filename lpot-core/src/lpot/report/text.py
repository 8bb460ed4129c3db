"""Plain-text reports: the summary of a result and the trials table of a workspace."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lpot.report.figures import accuracy_digits, accuracy_text, quantity
from lpot.trial import Trial
from lpot.tuning.history import read_workspace

if TYPE_CHECKING:
    from lpot.tuning.result import TuningResult


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()
    rule = "  ".join("-" * w for w in widths)
    body = [
        "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths)).rstrip()
        for r in cells
    ]
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


WIDTH = 100  # the summary fits a 100-column terminal
STAGE_WIDTH = 34


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def trials_table(
    trials: Sequence[Trial],
    best: int | None = None,
    objective_name: str = "objective",
    unit: str = "",
    goal: float | None = None,
) -> str:
    """One line per trial; a failed trial says "failed" here, its error in full below the table."""
    digits = accuracy_digits([t.accuracy for t in trials], goal)
    rows = []
    for t in trials:
        s = t.summary()
        rows.append(
            [
                "*" if t.index == best else "",
                t.index,
                _short(t.label, STAGE_WIDTH),
                accuracy_text(t.accuracy, digits),
                t.met,
                quantity(t.objective, unit) if unit else t.objective,
                s["int8_ops"],
                s["fp32_ops"],
                t.status,
            ]
        )
    headers = ["best", "trial", "stage", "accuracy", "met", objective_name, "int8", "fp32", "status"]
    return table(headers, rows)


def failures(trials: Sequence[Trial], traceback: bool = False) -> str:
    """Each failed trial once, its error in full (wrapped to the summary's width)."""
    import textwrap

    lines = []
    for t in trials:
        if t.error:
            head = f"trial {t.index} ({t.label}): "
            lines.append(textwrap.fill(head + t.error, WIDTH, subsequent_indent="    "))
            if traceback and t.details.get("traceback"):
                lines.append(textwrap.indent(str(t.details["traceback"]).rstrip(), "    "))
    return "\n".join(lines)


def precision_table(recipe: Any) -> str:
    """Ops per op type in INT8 / BF16 / FP32 (the original tool's "Mixed Precision Statistics")."""
    counts: dict[str, list[int]] = {}
    for key, cfg in recipe.ops.items():
        row = counts.setdefault(key.op_type, [0, 0, 0])
        row[0 if cfg.is_quantized else 1 if cfg.activation.dtype == "bf16" else 2] += 1
    rows = [[op_type, *row] for op_type, row in counts.items()]
    if rows:
        rows.append(["total", *(sum(r[i] for r in rows) for i in (1, 2, 3))])
    return table(["op type", "INT8", "BF16", "FP32"], rows)


def result_summary(result: TuningResult, traceback: bool = False) -> str:
    """The terminal summary of a run: what was reached, at what cost, and every trial."""
    digits = accuracy_digits([result.accuracy, result.baseline_accuracy], result.goal)
    sign = ">=" if result.higher_is_better else "<="
    unit = result.objective_unit
    what = result.objective_name + (
        f" at batch {result.objective_batch_size}" if result.objective_batch_size else ""
    )
    change = result.objective_change
    failed = sum(t.status != "ok" for t in result.trials)
    lines = [
        f"status: {result.status} ({result.stop_reason})",
        f"accuracy: FP32 {accuracy_text(result.baseline_accuracy, digits)} -> tuned "
        f"{accuracy_text(result.accuracy, digits)} (goal {sign} {accuracy_text(result.goal, digits)}, "
        f"{result.criterion or 'criterion'})",
        f"{what}: FP32 {quantity(result.baseline_objective, unit)} -> tuned {quantity(result.objective, unit)}"
        + (f" ({change})" if change else ""),
        f"trials: {len(result.trials)}"
        + (f" ({failed} failed)" if failed else "")
        + f", calibration passes: {result.calibration_passes}, time: {result.elapsed_s:.1f}s",
        f"workspace: {result.workspace}",
    ]
    lines = [_short(line, WIDTH) if not line.startswith("status") else line for line in lines]
    lines += [f"warning: {w}" for w in result.warnings]
    best = result.best_trial.index if result.best_trial else None
    parts = [
        "\n".join(lines),
        trials_table(result.trials, best, _column(result.objective_name, unit), unit, result.goal),
        precision_table(result.recipe),
    ]
    failed_text = failures(result.trials, traceback)
    if failed_text:
        parts.append("failed trials:\n" + failed_text)
    return "\n\n".join(parts)


def _column(name: str, unit: str) -> str:
    return {"performance": "latency", "model_size": "size", "footprint": "memory"}.get(name, name)


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
    unit = meta.get("objective_unit", "")
    name = meta.get("objective", "objective")
    lines.append(trials_table(trials, meta.get("best_trial"), _column(name, unit), unit, meta.get("goal")))
    return "\n".join(lines)
