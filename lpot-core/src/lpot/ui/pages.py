"""The HTML pages, and the fragments of them that server-sent events replace while a run moves on.

Each live page is rendered from the same fragment functions the event stream uses, so the first
paint and every update show the same thing.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from lpot import plugins
from lpot.ui import charts
from lpot.ui.compare import comparison_rows
from lpot.ui.configs import APPROACHES, RunOptions, keep_in_fp32, parent_config, to_yaml
from lpot.ui.diagnose import diagnose
from lpot.ui.state import BadRequest, UiState
from lpot.ui.workspaces import RunView, download_files, tail


def ui_state(request: Request) -> UiState:
    return request.app.state.ui


def page(request: Request, template: str, **context: Any) -> HTMLResponse:
    state = ui_state(request)
    folders = ", ".join(str(p) for p in state.roots.paths)
    return HTMLResponse(state.render(template, folders=folders, **context))


def script_json(value: Any) -> str:
    """JSON to embed in ``<script type="application/json">``: no ``</script>`` can end it early."""
    return json.dumps(value).replace("<", "\\u003c")


def run_id_param(request: Request) -> str:
    run_id = request.query_params.get("id")
    if not run_id:
        raise BadRequest("the request names no run: add ?id=<run id>")
    return run_id


# fragments ----------------------------------------------------------------------------------------
def runs_fragments(state: UiState, runs: list[RunView]) -> dict[str, Any]:
    return {"html": {"runs-body": state.render("_runs_rows.html.j2", runs=runs)}, "count": len(runs)}


def run_fragments(state: UiState, run: RunView) -> dict[str, Any]:
    context = {"run": run, "report": run.report, "files": download_files(run.path)}
    html = {  # element id -> its content
        "summary": state.render("_run_summary.html.j2", **context),
        "actions": state.render("_run_actions.html.j2", **context),
        "trials-body": state.render("_run_trials.html.j2", **context),
        "benchmarks": state.render("_run_benchmarks.html.j2", **context),
        "downloads": state.render("_run_downloads.html.j2", **context),
        "output": state.render("_run_output.html.j2", output=tail(run.path)),
    }
    return {
        "html": html,
        "chart": charts.run_chart(run.report),
        "status": run.status,
        "trials": run.trials,
        "benchmarking": run.benchmarking,
    }


# pages --------------------------------------------------------------------------------------------
async def runs_page(request: Request) -> HTMLResponse:
    state = ui_state(request)
    since = state.runs_version()  # before reading: a change in between is pushed, never lost
    return page(request, "runs.html.j2", title="Runs", live=runs_fragments(state, state.runs()), since=since)


async def run_page(request: Request) -> HTMLResponse:
    state = ui_state(request)
    run = state.run(run_id_param(request))
    since = state.run_version(run.path)
    live = run_fragments(state, run)
    chart = script_json(live["chart"])
    return page(request, "run.html.j2", title=run.name, run=run, live=live, chart_json=chart, since=since)


async def trial_page(request: Request) -> HTMLResponse:
    state = ui_state(request)
    run = state.run(run_id_param(request))
    index = request.query_params.get("trial", "")
    if not index.isdigit():
        raise BadRequest(f"trial: expected a trial number, got {index!r}")
    diagnosis = diagnose(run.path, int(index))
    figures = {
        "op-errors": charts.op_error_chart(diagnosis.errors),
        **{f"ranges-{n}": charts.ranges_chart(stats) for n, stats in enumerate(diagnosis.calibration)},
    }
    return page(
        request,
        "trial.html.j2",
        title=f"{run.name} trial {index}",
        run=run,
        d=diagnosis,
        figures_json=script_json(figures),
    )


async def compare_page(request: Request) -> HTMLResponse:
    state = ui_state(request)
    ids = request.query_params.getlist("id")
    if len(ids) < 2:
        raise BadRequest("compare: select at least two runs")
    runs = [state.run(run_id) for run_id in ids]
    rows = comparison_rows(runs)
    chart = charts.compare_chart(rows)
    return page(
        request, "compare.html.j2", title="Compare", runs=runs, rows=rows, chart_json=script_json(chart)
    )


async def new_page(request: Request) -> HTMLResponse:
    state = ui_state(request)
    options = RunOptions()
    yaml_text, seeded_from = to_yaml(options.to_config()), None
    parent_id = request.query_params.get("from")
    if parent_id:
        parent = state.run(parent_id)
        config = parent_config(parent.path, parent.meta, parent.record.config if parent.record else None)
        ops = [op for op in request.query_params.get("fp32", "").split(",") if op]
        yaml_text, seeded_from = to_yaml(keep_in_fp32(config, ops) if ops else config), parent
    choices = {
        "strategy": sorted(plugins.available("lpot.strategies")),
        "metric": sorted(plugins.available("lpot.metrics")),
        "objective": sorted(plugins.available("lpot.objectives")),
        "approach": list(APPROACHES),
    }
    return page(
        request,
        "new.html.j2",
        title="New run",
        options=options,
        choices=choices,
        yaml_text=yaml_text,
        seeded_from=seeded_from,
        roots=state.roots.paths,
        max_upload=state.max_upload,
    )
