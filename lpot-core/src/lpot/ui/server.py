"""Bind, print the address with its token (the first line of stdout), serve with uvicorn."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from lpot.errors import ConfigError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (``port`` 0: any free one), bound before the address is printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"lpot ui cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
        ) from None
    sock.listen(128)
    return sock


def serve(folders: Sequence[str], *, host: str, port: int, open_browser: bool, max_upload_mb: float) -> int:
    import uvicorn

    from lpot.ui.app import create_app
    from lpot.ui.security import new_token

    roots = [Path(f) for f in folders]
    for root in roots:
        if not root.is_dir():
            raise ConfigError(
                f"lpot ui: {str(root)!r} is not a folder; give folders that hold (or will hold) runs"
            )
    if max_upload_mb <= 0:
        raise ConfigError(f"--max-upload-mb: expected a positive size in MiB, got {max_upload_mb}")
    token = new_token()
    sock = bind(host, port)
    shown = f"[{host.strip('[]')}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/?token={token}"
    print(f"lpot ui: {url}", flush=True)
    local = is_loopback(host)
    if not local:
        print(
            f"lpot ui: warning: listening on {host}: whoever can reach it and has the token controls your runs",
            file=sys.stderr,
        )
    app = create_app(
        roots,
        token,
        max_upload_bytes=int(max_upload_mb * 2**20),
        allowed_hosts=LOOPBACK_NAMES if local else ("*",),
    )
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    )
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        app.state.ui.launcher.close()
        sock.close()
    return 0
