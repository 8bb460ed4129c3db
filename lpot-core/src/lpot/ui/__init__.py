"""``lpot ui``: a local web app to start, watch, compare and diagnose tuning runs.

Needs the ``ui`` extra (``pip install 'lpot-core[ui]'``: Starlette and uvicorn). ``import lpot``
imports none of it; :func:`main` checks the extra before anything else.
"""

from __future__ import annotations

from collections.abc import Sequence

from lpot.errors import PluginError

__all__ = ["main"]


def require_extra() -> None:
    """Fail with the install command when Starlette or uvicorn is missing."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise PluginError(
            f"lpot ui needs Starlette and uvicorn ({exc.name or exc} is not installed): "
            "pip install 'lpot-core[ui]'"
        ) from None


def main(
    folders: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    open_browser: bool = True,
    max_upload_mb: float = 1024,
) -> int:
    """Serve the UI over ``folders`` until interrupted (the URL with its token is printed first)."""
    require_extra()
    from lpot.ui.server import serve

    return serve(folders, host=host, port=port, open_browser=open_browser, max_upload_mb=max_upload_mb)
