"""Server-sent events: the server polls the workspaces' files and pushes fresh fragments on change.

The tune writes its history and run log; this side only reads them, about once a second, and
sends an update when their signature changes (a trial committed, the log grown, the process gone),
so the page follows a run without reloading and without the UI keeping its own copy of it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from lpot.ui.pages import run_fragments, run_id_param, runs_fragments, ui_state

POLL_S = 0.5
KEEPALIVE_S = 15.0


def _stream(
    request: Request, probe: Callable[[], str], render: Callable[[], dict[str, Any]]
) -> StreamingResponse:
    """Push ``render()`` whenever ``probe()`` (a version of the files) changes; the page passes the
    version it was rendered at as ``since``, so nothing is sent until there is something new."""

    async def events() -> AsyncIterator[str]:
        last, quiet_since = request.query_params.get("since"), time.monotonic()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            current = await run_in_threadpool(probe)
            if current != last:
                payload = await run_in_threadpool(render)
                last, quiet_since = current, time.monotonic()
                yield f"data: {json.dumps(payload, default=str)}\n\n"
            elif time.monotonic() - quiet_since > KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(POLL_S)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


async def runs_events(request: Request) -> StreamingResponse:
    state = ui_state(request)
    return _stream(request, state.runs_version, lambda: runs_fragments(state, state.runs()))


async def run_events(request: Request) -> StreamingResponse:
    state = ui_state(request)
    run_id = run_id_param(request)
    folder = state.run(run_id).path
    return _stream(
        request, lambda: state.run_version(folder), lambda: run_fragments(state, state.run(run_id))
    )
