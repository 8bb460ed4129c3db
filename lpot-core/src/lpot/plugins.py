"""Entry-point discovery for backends, strategies, metrics, objectives and demos.

Built-ins are registered through the same groups as third-party plugins, so both are found the
same way. Loading is lazy: listing names imports nothing; a plugin's module is imported when asked
for. Listing never raises; asking for a missing or broken plugin raises with the fix.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from lpot.errors import BackendNotFoundError, PluginError

GROUPS = (
    "lpot.backends",
    "lpot.strategies",
    "lpot.metrics",
    "lpot.objectives",
    "lpot.demos",
    "lpot.datasets",
    "lpot.transforms",
)

# Which package provides a backend, for the "pip install ..." hint.
BACKEND_PACKAGES = {
    "onnxrt": "lpot-onnxrt",
    "pytorch": "lpot-pytorch",
    "tensorflow": "lpot-tensorflow",
    "mxnet": "lpot-mxnet",
}


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin: its name, where it points and which distribution gave it."""

    group: str
    name: str
    value: str
    distribution: str | None

    def load(self) -> Any:
        ep = metadata.EntryPoint(name=self.name, value=self.value, group=self.group)
        try:
            return ep.load()
        except ImportError as exc:
            raise PluginError(
                f"{_kind(self.group)} {self.name!r} from {self.distribution or 'an unknown package'} "
                f"failed to import ({self.value}): {exc}. Reinstall it or install its missing dependency."
            ) from exc
        except Exception as exc:  # a plugin's module may fail in any way at import
            raise PluginError(
                f"{_kind(self.group)} {self.name!r} from {self.distribution or 'an unknown package'} "
                f"raised {type(exc).__name__} while loading ({self.value}): {exc}"
            ) from exc


def _kind(group: str) -> str:
    """``lpot.strategies`` -> ``strategy``, ``lpot.backends`` -> ``backend``: for messages."""
    plural = group.split(".", 1)[1]
    return plural[:-3] + "y" if plural.endswith("ies") else plural.removesuffix("s")


@functools.cache
def _entry_points(group: str) -> dict[str, PluginInfo]:
    found: dict[str, PluginInfo] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.setdefault(ep.name, PluginInfo(group, ep.name, ep.value, dist.name if dist else None))
    return found


def refresh() -> None:
    """Forget cached entry points (after installing a plugin in the running process)."""
    _entry_points.cache_clear()
    _loaded.cache_clear()


def available(group: str) -> dict[str, PluginInfo]:
    """Registered plugins of ``group`` by name, without importing any of them."""
    if group not in GROUPS:
        raise PluginError(f"unknown plugin group {group!r}; expected one of {', '.join(GROUPS)}")
    return dict(_entry_points(group))


@functools.cache
def _loaded(group: str, name: str) -> Any:
    return available(group)[name].load()


def load(group: str, name: str) -> Any:
    """The object registered as ``name`` in ``group`` (a class or factory), imported now."""
    plugins = available(group)
    if name not in plugins:
        kind = _kind(group)
        close = difflib.get_close_matches(name, list(plugins), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if group == "lpot.backends" and name in BACKEND_PACKAGES:
            hint += f" Install it with: pip install {BACKEND_PACKAGES[name]}"
        raise PluginError(
            f"no {kind} named {name!r} is installed (installed: {', '.join(sorted(plugins)) or 'none'}){hint}"
        )
    return _loaded(group, name)


def create(group: str, name: str, **kwargs: Any) -> Any:
    """Instantiate the plugin ``name`` with ``kwargs``, explaining a wrong parameter."""
    factory = load(group, name)
    try:
        return factory(**kwargs)
    except TypeError as exc:
        raise PluginError(f"{_kind(group)} {name!r} does not accept parameters {kwargs!r}: {exc}") from exc


def describe(group: str) -> dict[str, str]:
    """``{name: "ok" | "unavailable: <reason>"}`` for listings (``lpot plugins``); never raises."""
    status = {}
    for name in sorted(available(group)):
        try:
            load(group, name)
            status[name] = "ok"
        except PluginError as exc:
            status[name] = f"unavailable: {exc}"
    return status


def backend_by_name(name: str) -> Any:
    """An instance of the backend registered as ``name``, checked against the Backend protocol."""
    try:
        backend = create("lpot.backends", name)
    except PluginError as exc:
        if name not in available("lpot.backends"):
            raise BackendNotFoundError(str(exc)) from exc
        raise
    missing = missing_backend_methods(backend)
    if missing:
        info = available("lpot.backends")[name]
        raise PluginError(
            f"backend {name!r} from {info.distribution or 'an unknown package'} ({info.value}) does not implement "
            f"the lpot Backend protocol: missing {', '.join(missing)}"
        )
    return backend


def missing_backend_methods(backend: object) -> list[str]:
    """Names of the Backend protocol members ``backend`` lacks (checked when a backend is loaded)."""
    from lpot.backend import Backend

    members = [m for m in Backend.__dict__ if not m.startswith("_")] + ["name"]
    return sorted({m for m in members if not hasattr(backend, m)})


def backend_for(model: object) -> Any:
    """The first installed backend whose ``accepts(model)`` is true."""
    tried = []
    for name in sorted(available("lpot.backends")):
        try:
            backend = backend_by_name(name)
        except PluginError:
            tried.append(f"{name} (unavailable)")
            continue
        tried.append(name)
        try:
            if backend.accepts(model):
                return backend
        except Exception:  # accepts() must not raise; a buggy one must not hide the others
            continue
    shown = repr(model) if isinstance(model, str) else type(model).__module__ + "." + type(model).__qualname__
    hints = ", ".join(f"pip install {p}" for n, p in BACKEND_PACKAGES.items() if n not in tried)
    raise BackendNotFoundError(
        f"no installed backend accepts model {shown}; installed backends: {', '.join(tried) or 'none'}. "
        f"Install the backend for your framework ({hints or 'all known backends are installed'}) "
        "or set model.framework in the config."
    )
