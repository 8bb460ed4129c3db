"""Markdown report: a summary and the trials table, for CI logs and pull requests.

Every name and message comes from the user's config, model or errors, so each is escaped as the
HTML report escapes (``<`` ``>`` ``&`` as entities) plus what Markdown itself would read: a ``|``
would split a table cell; ``*``, ``_``, backticks, ``[`` and ``]`` would format or link.
"""

from __future__ import annotations

import html
import re
from typing import Any

from lpot.report.data import ReportData, TrialRow
from lpot.report.explain import chosen_reason, error_line
from lpot.report.text import _cell

_MARKUP = re.compile(r"([\\`*_\[\]|])")


def escape(value: Any) -> str:
    """``value`` as literal Markdown text on one line."""
    text = " ".join(str(value).split())
    return _MARKUP.sub(r"\\\1", html.escape(text, quote=False))


def render_markdown(data: ReportData) -> str:
    m = data.meta
    e = escape
    versions = ", ".join(f"{e(k)} {e(v)}" for k, v in m.get("versions", {}).items())
    unit = f" ({e(data.objective_unit)})" if data.objective_unit else ""
    lines = [
        f"# lpot tuning report: {e(m.get('model_name', '?'))}",
        "",
        f"- backend: {e(m.get('backend', '?'))} ({versions})",
        f"- strategy: {e(m.get('strategy', '?'))}; criterion: {e(m.get('criterion', '?'))}; objective: {e(data.objective_name)}",
        f"- status: **{e(m.get('status', '?'))}** ({e(m.get('stop_reason', 'interrupted or running'))})",
        f"- FP32 accuracy {_cell(data.baseline_accuracy)}, goal {_cell(data.goal)}, best trial {_cell(data.best_trial)}",
        *([f"- why: {e(chosen_reason(data))}"] if data.best else []),
        *[f"- **warning**: {e(w)}" for w in m.get("warnings") or []],
        "",
        f"| trial | stage | accuracy | met | {e(data.objective_name)}{unit} | int8 ops | fp32 ops | status |",
        "|---:|---|---:|:---:|---:|---:|---:|---|",
    ]
    for t in data.trials:
        mark = " (best)" if t.index == data.best_trial else ""
        lines.append(
            f"| {t.index}{mark} | {e(t.label)} | {_cell(t.accuracy)} | {'yes' if t.met else 'no'} | {_cell(t.objective)} "
            f"| {t.int8_ops} | {t.fp32_ops} | {_status(data, t)} |"
        )
    return "\n".join(lines) + "\n"


def _status(data: ReportData, trial: TrialRow) -> str:
    """The status cell: a failure with its error in one line (pipes escaped for the table)."""
    if not trial.error:
        return escape(trial.status)
    return f"{escape(trial.status)}: " + escape(error_line(data, trial))
