"""Files the zoo builds once (ONNX exports, trained scikit-learn models), keyed by what made them.

A file's name carries a hash of the versions of every package that shaped it, so an upgrade of
torch or skl2onnx builds a new file instead of reusing a stale one. The root is
``$LPOT_ZOO_CACHE`` or ``~/.cache/lpot-zoo``; writes go to a temporary name and are renamed, so two
sessions building the same file at once never see half of it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from lpot_zoo import __version__


def cache_root() -> Path:
    """Where built files live; created on first use."""
    root = Path(os.environ.get("LPOT_ZOO_CACHE") or Path.home() / ".cache" / "lpot-zoo")
    root.mkdir(parents=True, exist_ok=True)
    return root


def versions_of(distributions: Iterable[str]) -> dict[str, str]:
    """Installed versions of ``distributions`` (``"absent"`` for one not installed)."""
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def cached_file(name: str, made_by: Iterable[str], build: Callable[[Path], None], *, extra: str = "") -> Path:
    """The cached ``name`` built by ``build(path)`` the first time for these package versions.

    ``made_by`` lists the distributions whose versions change the file; ``extra`` is any other
    setting that does (an opset, a seed).
    """
    stamp = sorted(versions_of(made_by).items())
    key = hashlib.sha256(repr((__version__, stamp, extra)).encode()).hexdigest()[:12]
    stem, dot, suffix = name.partition(".")
    path = cache_root() / f"{stem}-{key}{dot}{suffix}"
    if path.exists():
        return path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{stem}-", suffix=f"{dot}{suffix}")
    os.close(fd)
    try:
        build(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
