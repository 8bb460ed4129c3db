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
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from lpot.ui.pages import run_fragments, run_id_param, runs_fragments, ui_state
from lpot.ui.process import RunRecord
from lpot.ui.state import UiState
from lpot.ui.workspaces import scan, signature

POLL_S = 0.5
KEEPALIVE_S = 15.0


def _stream(request: Request, probe: Callable[[], Any], render: Callable[[], dict[str, Any]]) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        last, quiet_since = object(), time.monotonic()
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


def _activity(state: UiState, folder: Path) -> tuple[bool, bool]:
    return state.launcher.running(folder, RunRecord.read(folder)), state.launcher.benchmarking(folder)


async def runs_events(request: Request) -> StreamingResponse:
    state = ui_state(request)

    def probe() -> Any:
        return [(f, signature(f), _activity(state, f)) for f in scan(state.roots)]

    return _stream(request, probe, lambda: runs_fragments(state, state.runs()))


async def run_events(request: Request) -> StreamingResponse:
    state = ui_state(request)
    run_id = run_id_param(request)
    folder = state.run(run_id).path

    def probe() -> Any:
        return signature(folder), _activity(state, folder)

    return _stream(request, probe, lambda: run_fragments(state, state.run(run_id)))
