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
    import importlib.util

    missing = [name for name in ("starlette", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        raise PluginError(
            f"lpot ui needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            "pip install 'lpot-core[ui]'"
        )


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
