"""Plotly figures as JSON for the page (``Plotly.react`` redraws them in place when a run moves on).

The run's accuracy-vs-objective chart and the per-op error bars are the HTML report's own
(:mod:`lpot.report.html`); the activation ranges and the comparison of runs are the UI's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from lpot.backend import Stats
from lpot.report.data import ReportData
from lpot.report.html import accuracy_figure, op_error_figure

MAX_RANGES = 200
PALETTE = ("#264653", "#2a9d8f", "#e76f51", "#8e6c8a", "#f4a261", "#457b9d", "#6a994e", "#bc4749")


def as_json(fig: Any) -> dict[str, Any] | None:
    return None if fig is None else json.loads(fig.to_json())


def run_chart(report: ReportData | None) -> dict[str, Any] | None:
    return as_json(accuracy_figure(report)) if report is not None else None


def op_error_chart(errors: dict[str, float]) -> dict[str, Any] | None:
    return as_json(op_error_figure(errors))


def ranges_chart(stats: Stats) -> dict[str, Any] | None:
    """One horizontal bar per tensor from its calibrated low to its high."""
    import plotly.graph_objects as go

    items = list(stats.ranges.items())[:MAX_RANGES]
    if not items:
        return None
    fig = go.Figure(
        go.Bar(
            y=[name for name, _ in items],
            x=[hi - lo for _, (lo, hi) in items],
            base=[lo for _, (lo, _) in items],
            orientation="h",
            marker_color="#457b9d",
            hovertemplate="%{y}: [%{base:.4g}, %{x:.4g} wide]<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="calibrated range (min to max)",
        height=max(240, 22 * len(items) + 80),
        margin={"l": 160, "r": 20, "t": 20, "b": 50},
        yaxis={"autorange": "reversed"},
    )
    return as_json(fig)


def compare_chart(points: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Accuracy against latency, marker area by model size; FP32 points are grey diamonds, each
    joined to its run's tuned point. ``points`` are rows of the comparison table."""
    import plotly.graph_objects as go

    drawable = [p for p in points if p["latency_ms"] is not None and p["accuracy"] is not None]
    if not drawable:
        return None
    sizes = [p["size_bytes"] for p in drawable if p["size_bytes"]]
    biggest = max(sizes) if sizes else None
    fig = go.Figure()
    for n, run in enumerate(dict.fromkeys(p["run"] for p in drawable)):
        mine = [p for p in drawable if p["run"] == run]
        colour = PALETTE[n % len(PALETTE)]
        fig.add_trace(  # FP32 -> tuned, in the run's colour
            go.Scatter(
                x=[p["latency_ms"] for p in mine],
                y=[p["accuracy"] for p in mine],
                mode="lines",
                legendgroup=run,
                showlegend=False,
                line={"color": colour, "dash": "dot"},
                hoverinfo="skip",
            )
        )
        tuned = [p for p in mine if p["model"] == "tuned"]
        fig.add_trace(_points(go, tuned, run, colour, "circle", biggest, legendgroup=run))
    fp32 = [p for p in drawable if p["model"] == "fp32"]
    fig.add_trace(_points(go, fp32, "FP32", "#6c757d", "diamond", biggest))
    fig.update_layout(
        xaxis_title="latency (ms per batch)",
        yaxis_title="accuracy",
        height=440,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"title": {"text": "marker area: model size"}},
    )
    return as_json(fig)


def _points(
    go: Any,
    points: list[dict[str, Any]],
    name: str,
    colour: str,
    symbol: str,
    biggest: int | None,
    legendgroup: str | None = None,
) -> Any:
    return go.Scatter(
        x=[p["latency_ms"] for p in points],
        y=[p["accuracy"] for p in points],
        mode="markers",
        name=name,
        legendgroup=legendgroup,
        text=[f"{p['run']} {p['model']}: {_size_text(p['size_bytes'])}" for p in points],
        marker={
            "symbol": symbol,
            "color": colour,
            "size": [_marker(p["size_bytes"], biggest) for p in points],
            "line": {"width": 1, "color": "#222"},
        },
    )


def _marker(size: int | None, biggest: int | None) -> float:
    if not size or not biggest:
        return 12.0
    return 10.0 + 30.0 * math.sqrt(size / biggest)


def _size_text(size: int | None) -> str:
    return "size unknown" if not size else f"{size / 1024:.1f} KiB"
