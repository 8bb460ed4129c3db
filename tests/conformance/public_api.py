"""A backend package's public surface as its README promises it, checked the same way for each.

``dir(pkg)`` lists ``__all__`` (and only that); every public name resolves; importing the package
loads no deep-learning framework (the engine does, on first use); every ``from pkg import a, b``
and every ``Name(`` the package's README shows resolves.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_names(package: str) -> set[str]:
    """The names the README imports from ``package`` or calls as ``Name(`` from its ``__all__``."""
    module = importlib.import_module(package)
    text = (ROOT / package.replace("_", "-") / "README.md").read_text()
    names: set[str] = set()
    for imported in re.findall(rf"^\s*from {package} import ([\w, ]+)$", text, flags=re.M):
        names.update(name.strip() for name in imported.split(","))
    names.update(name for name in re.findall(r"\b([A-Z]\w+)\(", text) if name in module.__all__)
    return names


def check_public_surface(package: str, frameworks: tuple[str, ...]) -> None:
    """Fail, naming the name, where ``package`` breaks one of the promises above."""
    module = importlib.import_module(package)
    assert dir(module) == sorted(module.__all__), dir(module)
    for name in sorted(set(module.__all__) | readme_names(package)):
        value = getattr(module, name, None)
        if value is None:  # a submodule the README imports (``from lpot_pytorch import fx``)
            value = importlib.import_module(f"{package}.{name}")
        assert value is not None, name
    probe = f"import sys, {package}; print(' '.join(m for m in {frameworks!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "", f"import {package} loaded {loaded.stdout.strip()}"
