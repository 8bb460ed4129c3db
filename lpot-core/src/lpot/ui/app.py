"""The Starlette application: routes, the token gate, the host check, errors as status codes."""

from __future__ import annotations

import functools
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from lpot.errors import LpotError
from lpot.ui import api, events, pages
from lpot.ui.diagnose import TrialNotFound
from lpot.ui.paths import PathRefused, Roots, inside
from lpot.ui.process import RunStateError
from lpot.ui.security import TokenGate, UploadTooLarge
from lpot.ui.state import RunNotFound, UiState
from lpot.ui.workspaces import download_files

STATUS = {PathRefused: 403, RunNotFound: 404, TrialNotFound: 404, RunStateError: 409, UploadTooLarge: 413}


async def download(request: Request) -> Response:
    """A file of the run's ``best_model/`` (the tuned model, ``recipe.json``, ``summary.json``)."""
    run = pages.ui_state(request).run(pages.run_id_param(request))
    name = request.query_params.get("file", "")
    path = inside(run.path / "best_model", name)
    if path not in download_files(run.path):
        raise PathRefused(f"{name!r} is not a file of {run.name}/best_model")
    return FileResponse(path, filename=path.name)


async def download_zip(request: Request) -> Response:
    run = pages.ui_state(request).run(pages.run_id_param(request))
    files = download_files(run.path)
    if not files:
        raise RunStateError(f"run {run.name!r} has no tuned model yet")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"best_model/{path.name}")
    headers = {"Content-Disposition": f'attachment; filename="{run.path.name}-best_model.zip"'}
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers)


@functools.cache
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode()


async def plotly_js(request: Request) -> Response:
    """plotly.js from the plotly package the report uses: no CDN, no network."""
    return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})


async def no_icon(request: Request) -> Response:
    return Response(status_code=204)


async def lpot_error(request: Request, exc: Exception) -> Response:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    if request.url.path.startswith("/api/") or request.url.path.startswith("/events"):
        return JSONResponse({"error": str(exc)}, status_code=status)
    state = pages.ui_state(request)
    html = state.render("error.html.j2", title=f"error {status}", message=str(exc), status=status, folders="")
    return HTMLResponse(html, status_code=status)


ROUTES = [
    Route("/", pages.runs_page),
    Route("/run", pages.run_page),
    Route("/trial", pages.trial_page),
    Route("/compare", pages.compare_page),
    Route("/new", pages.new_page),
    Route("/download", download),
    Route("/download/zip", download_zip),
    Route("/plotly.js", plotly_js),
    Route("/favicon.ico", no_icon),
    Route("/events/runs", events.runs_events),
    Route("/events/run", events.run_events),
    Route("/api/runs", api.runs_json, methods=["GET"]),
    Route("/api/runs", api.create, methods=["POST"]),
    Route("/api/config/preview", api.preview_config, methods=["POST"]),
    Route("/api/config/check", api.check_config, methods=["POST"]),
    Route("/api/upload", api.upload, methods=["PUT"]),
    Route("/api/start", api.start, methods=["POST"]),
    Route("/api/stop", api.stop, methods=["POST"]),
    Route("/api/resume", api.resume, methods=["POST"]),
    Route("/api/benchmark", api.benchmark, methods=["POST"]),
    Route("/api/seed", api.seed, methods=["POST"]),
    Mount("/static", StaticFiles(packages=[("lpot.ui", "static")]), name="static"),
]


def create_app(
    folders: Sequence[str | Path],
    token: str,
    *,
    max_upload_bytes: int = 1 << 30,
    allowed_hosts: Sequence[str] = ("*",),
) -> Starlette:
    """The UI over ``folders``; every request must carry ``token`` (see :mod:`lpot.ui.security`)."""
    app = Starlette(
        routes=ROUTES,
        middleware=[
            Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)),
            Middleware(TokenGate, token=token),
        ],
        exception_handlers={LpotError: lpot_error},
    )
    app.state.ui = UiState(roots=Roots(folders), max_upload=max_upload_bytes)
    return app
