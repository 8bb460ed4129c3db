"""Markdown report: a summary and the trials table, for CI logs and pull requests."""

from __future__ import annotations

from lpot.report.data import ReportData, TrialRow
from lpot.report.explain import chosen_reason, error_line
from lpot.report.text import _cell


def render_markdown(data: ReportData) -> str:
    m = data.meta
    unit = f" ({data.objective_unit})" if data.objective_unit else ""
    lines = [
        f"# lpot tuning report: {m.get('model_name', '?')}",
        "",
        f"- backend: {m.get('backend', '?')} ({', '.join(f'{k} {v}' for k, v in m.get('versions', {}).items())})",
        f"- strategy: {m.get('strategy', '?')}; criterion: {m.get('criterion', '?')}; objective: {data.objective_name}",
        f"- status: **{m.get('status', '?')}** ({m.get('stop_reason', 'interrupted or running')})",
        f"- FP32 accuracy {_cell(data.baseline_accuracy)}, goal {_cell(data.goal)}, best trial {_cell(data.best_trial)}",
        *([f"- why: {chosen_reason(data)}"] if data.best else []),
        *[f"- **warning**: {w}" for w in m.get("warnings") or []],
        "",
        f"| trial | stage | accuracy | met | {data.objective_name}{unit} | int8 ops | fp32 ops | status |",
        "|---:|---|---:|:---:|---:|---:|---:|---|",
    ]
    for t in data.trials:
        mark = " (best)" if t.index == data.best_trial else ""
        lines.append(
            f"| {t.index}{mark} | {t.label} | {_cell(t.accuracy)} | {'yes' if t.met else 'no'} | {_cell(t.objective)} "
            f"| {t.int8_ops} | {t.fp32_ops} | {_status(data, t)} |"
        )
    return "\n".join(lines) + "\n"


def _status(data: ReportData, trial: TrialRow) -> str:
    """The status cell: a failure with its error in one line (pipes escaped for the table)."""
    if not trial.error:
        return trial.status
    return f"{trial.status}: " + error_line(data, trial).replace("|", "\\|")
