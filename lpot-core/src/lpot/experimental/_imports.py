"""The framework packages the components delegate to, imported when a component runs."""

from __future__ import annotations

import importlib
from types import ModuleType

from lpot.errors import PluginError


def framework_module(name: str, package: str) -> ModuleType:
    """``name`` (e.g. ``lpot_pytorch.pruning``), or an error naming the package to install."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PluginError(f"this needs {package} ({name}: {exc}); install it: pip install {package}") from exc
