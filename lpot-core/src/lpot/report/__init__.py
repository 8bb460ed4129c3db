"""Reports of a tuning run: text (terminal), Markdown and JSON (CI), self-contained HTML (people)."""

from __future__ import annotations

import json
from pathlib import Path

from lpot.report.text import result_summary, table, trials_table, workspace_report

__all__ = ["result_summary", "table", "trials_table", "workspace_report", "write_report"]

SUFFIX = {"html": "html", "md": "md", "json": "json"}


def write_report(
    workspace: str | Path, fmt: str = "html", output: str | Path | None = None, inline: bool = False
) -> Path | None:
    """Write the report of ``workspace`` as html/md/json and return its path (text: None, print it).

    HTML loads plotly.js from one copy written beside it (shared by the reports of that folder);
    ``inline=True`` makes it a single 4.7 MB file instead."""
    if fmt == "text":
        return None
    from lpot.report.data import load_report

    data = load_report(workspace)
    path = Path(output) if output else Path(workspace) / f"report.{SUFFIX[fmt]}"
    if fmt == "html":
        from lpot.report.html import plotly_name, render_html

        content = render_html(data, None if inline else plotly_name())
    elif fmt == "md":
        from lpot.report.markdown import render_markdown

        content = render_markdown(data)
    else:
        content = json.dumps(data.to_dict(), indent=2, default=str)
    from lpot.tuning.workspace import write_file

    written = write_file(path, content.encode("utf-8"), "writing the report")
    if fmt == "html" and not inline:  # after the page: an unwritable place is named by the report
        from lpot.report.html import plotly_asset

        plotly_asset(written.parent)
    return written
