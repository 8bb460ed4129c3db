"""HTML report: Jinja2 template and Plotly charts, opened without network.

plotly.js (4.6 MB, the only bundle the plotly wheel ships) is written once next to the reports as
``plotly-<version>.min.js`` and referenced relatively, so a report of 14 trials stays ~100 KB and
many reports in one folder share one copy; ``inline=True`` puts it inside a single-file report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lpot.report.data import ReportData


def accuracy_figure(data: ReportData) -> Any:
    """Accuracy against the objective, one marker per trial (met / missed), the chosen trial, FP32
    and the goal; ``None`` before any trial measured both. Shared with ``lpot ui``."""
    import plotly.graph_objects as go

    unit = data.meta.get("objective_unit", "")
    ran = [t for t in data.trials if t.accuracy is not None and t.objective is not None]
    if not ran:
        return None
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[t.objective for t in ran],
            y=[t.accuracy for t in ran],
            mode="markers",
            name="trials",
            text=[f"#{t.index} {t.label}" for t in ran],
            marker={"color": ["#2a9d8f" if t.met else "#e76f51" for t in ran], "size": 9},
        )
    )
    best = data.best
    if best is not None and best.objective is not None and best.accuracy is not None:
        fig.add_trace(
            go.Scatter(
                x=[best.objective],
                y=[best.accuracy],
                mode="markers",
                name=f"chosen #{best.index}",
                marker={"symbol": "star", "size": 18, "color": "#264653"},
            )
        )
    if data.baseline_objective is not None and data.baseline_accuracy is not None:
        fig.add_trace(
            go.Scatter(
                x=[data.baseline_objective],
                y=[data.baseline_accuracy],
                mode="markers",
                name="FP32",
                marker={"symbol": "diamond", "size": 12, "color": "#6c757d"},
            )
        )
    if data.goal is not None:
        # the label on the side of the line away from FP32 (which always meets its own goal), so
        # the two never overlap: below a higher-is-better goal, above a lower-is-better one
        below = data.meta.get("higher_is_better", True)
        fig.add_hline(
            y=data.goal,
            line_dash="dash",
            annotation_text=f"accuracy goal {data.goal:.4g}",
            annotation_position="bottom right" if below else "top right",
        )
    fig.update_layout(
        xaxis_title=f"{data.objective_name} ({unit})" if unit else data.objective_name,
        yaxis_title="accuracy",
        height=420,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
    )
    return fig


def op_error_figure(errors: dict[str, float]) -> Any:
    """Per-op relative MSE against FP32 as bars, worst first; ``None`` when nothing was measured."""
    import plotly.graph_objects as go

    if not errors:
        return None
    ranked = sorted(errors.items(), key=lambda kv: kv[1], reverse=True)
    fig = go.Figure(go.Bar(x=[k for k, _ in ranked], y=[v for _, v in ranked], marker_color="#e9c46a"))
    fig.update_layout(
        yaxis_title="relative MSE vs FP32", height=360, margin={"l": 60, "r": 20, "t": 30, "b": 80}
    )
    return fig


def _figures(data: ReportData) -> dict[str, str]:
    figures: dict[str, str] = {}
    scatter = accuracy_figure(data)
    if scatter is not None:
        figures["scatter"] = scatter.to_html(full_html=False, include_plotlyjs=False, div_id="scatter")
    sensitivity = op_error_figure(
        {op.name: op.sensitivity for op in data.best_ops if op.sensitivity is not None}
    )
    if sensitivity is not None:
        figures["sensitivity"] = sensitivity.to_html(
            full_html=False, include_plotlyjs=False, div_id="sensitivity"
        )
    return figures


def plotly_name() -> str:
    """The file name of the shared plotly.js copy (versioned: reports of other versions coexist)."""
    import plotly

    return f"plotly-{plotly.__version__}.min.js"


def plotly_asset(folder: Path) -> str:
    """Write plotly.js into ``folder`` unless the same copy is there; its file name, for ``src``."""
    from plotly.offline import get_plotlyjs

    name = plotly_name()
    code = get_plotlyjs().encode()
    path = Path(folder) / name
    if not path.is_file() or path.read_bytes() != code:
        from lpot.tuning.workspace import write_file

        write_file(path, code, "writing the report's plotly.js")
    return name


def render_html(data: ReportData, plotly_src: str | None = None) -> str:
    """The report page; plotly.js from ``plotly_src`` (a path relative to the page) or inlined."""
    import jinja2

    from lpot.report.explain import chosen_reason, error_line
    from lpot.report.figures import accuracy_digits, accuracy_text, quantity

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lpot.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    digits = accuracy_digits(
        [v for v in (data.baseline_accuracy, *(t.accuracy for t in data.trials)) if v is not None], data.goal
    )

    def number(value: Any, digits: int = 4) -> str:
        if value is None:
            return "-"
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    env.filters["number"] = number
    env.filters["quantity"] = lambda value: (
        quantity(value, data.objective_unit) if data.objective_unit else number(value)
    )
    env.filters["accuracy"] = lambda value: "-" if value is None else accuracy_text(value, digits)
    inline = None
    if plotly_src is None:
        from plotly.offline import get_plotlyjs

        inline = get_plotlyjs()
    return env.get_template("report.html.j2").render(
        data=data,
        meta=data.meta,
        figures=_figures(data),
        plotly_js=inline,
        plotly_src=plotly_src,
        chosen_reason=chosen_reason(data),
        error_line=lambda trial: error_line(data, trial),
        versions=", ".join(f"{k} {v}" for k, v in data.meta.get("versions", {}).items()),
    )
