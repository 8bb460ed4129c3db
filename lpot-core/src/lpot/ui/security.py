"""The token every request must carry, and size-limited uploads.

The token comes in the URL ``lpot ui`` prints (``?token=...``); the first visit with it gets a
cookie (HttpOnly, SameSite=Strict: other sites' pages cannot send it) and is redirected to the same
URL without the token, so it does not stay in the address bar. Scripts may send it as the header
``X-Lpot-Token`` or ``Authorization: Bearer``. No token: 401; a wrong one: 403.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any

from starlette.datastructures import URL
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lpot.errors import LpotError

HEADER = "x-lpot-token"


class UploadTooLarge(LpotError, ValueError):
    """An upload over the size limit (answered with 413)."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(token: str) -> str:
    """One cookie per running UI (cookies ignore ports: two UIs on one host must not share one)."""
    return "lpot_ui_" + hashlib.sha256(token.encode()).hexdigest()[:12]


def _offered(conn: HTTPConnection, cookie: str) -> tuple[str | None, bool]:
    """The token the request carries, and whether it came in the query string."""
    query = conn.query_params.get("token")
    if query:
        return query, True
    bearer = conn.headers.get("authorization", "")
    given = (
        conn.cookies.get(cookie)
        or conn.headers.get(HEADER)
        or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
    )
    return given, False


class TokenGate:
    """ASGI middleware: nothing reaches the app without the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        given, in_query = _offered(conn, self.cookie)
        response: Any = None
        if not given:
            response = PlainTextResponse(
                "401 Unauthorized: open the address lpot ui printed (it ends in ?token=...)", status_code=401
            )
        elif not secrets.compare_digest(given.encode(), self.token.encode()):
            response = PlainTextResponse("403 Forbidden: wrong token", status_code=403)
        elif in_query and conn.cookies.get(self.cookie) != self.token and scope["method"] in ("GET", "HEAD"):
            clean = URL(scope=scope).remove_query_params("token")
            target = clean.path + (f"?{clean.query}" if clean.query else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def receive_upload(request: Request, dest: Path, limit: int) -> int:
    """Stream the request body into ``dest`` (atomically), refusing more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(_too_large(int(declared), limit))
    part = dest.with_name(dest.name + ".part")
    written = 0
    try:
        with part.open("wb") as out:
            async for chunk in request.stream():
                written += len(chunk)
                if written > limit:
                    raise UploadTooLarge(_too_large(written, limit, more=True))
                out.write(chunk)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    return written


def _too_large(size: int, limit: int, more: bool = False) -> str:
    return (
        f"upload of {'more than ' if more else ''}{size / 2**20:.1f} MiB refused: the limit is "
        f"{limit / 2**20:.1f} MiB (lpot ui --max-upload-mb)"
    )
