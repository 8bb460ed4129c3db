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

from lpot.errors import BackendNotFoundError, FeatureNotAvailableError, PluginError

# An alias whose settings hold this key names what the backend cannot do, and what to use instead.
UNAVAILABLE = "unavailable"

GROUPS = (
    "lpot.backends",
    "lpot.frameworks",
    "lpot.strategies",
    "lpot.metrics",
    "lpot.objectives",
    "lpot.demos",
    "lpot.datasets",
    "lpot.transforms",
)


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
        if group == "lpot.backends":
            hint += f". Backends are packages named lpot-<framework> (perhaps: pip install lpot-{name})"
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
    """``{name: "ok" | "unusable: <reason>"}`` for listings (``lpot plugins``); never raises.

    A plugin that needs optional packages declares them as ``requires = {module: "pip install
    target"}``: loading it succeeds without them (they are imported when it runs), so the listing
    checks them without importing them.
    """
    import importlib.util

    status = {}
    for name in sorted(available(group)):
        try:
            obj = load(group, name)
            if group == "lpot.backends":
                check_engine(create(group, name), where=f"backend {name!r}")
        except PluginError as exc:
            status[name] = f"unusable: {exc}"
            continue
        missing = [
            target
            for module, target in dict(getattr(obj, "requires", {})).items()
            if importlib.util.find_spec(module) is None
        ]
        status[name] = f"unusable: needs pip install '{missing[0]}'" if missing else "ok"
    return status


def load_engine(name: str) -> Any:
    """An instance of the engine registered as ``name`` in ``lpot.backends``, checked against the
    contract (required members, declared features, aliases) before it is used."""
    try:
        engine = create("lpot.backends", name)
    except PluginError as exc:
        if name not in available("lpot.backends"):
            raise BackendNotFoundError(str(exc)) from exc
        raise
    info = available("lpot.backends")[name]
    check_engine(
        engine, where=f"backend {name!r} from {info.distribution or 'an unknown package'} ({info.value})"
    )
    return engine


def check_engine(engine: object, *, where: str) -> None:
    """Raise :class:`PluginError` naming ``where`` and every way ``engine`` breaks the contract."""
    problems = engine_problems(engine)
    if problems:
        raise PluginError(f"{where} does not implement the lpot Engine contract: {'; '.join(problems)}")


def engine_problems(engine: object) -> list[str]:
    """What ``engine`` lacks of the contract (:mod:`lpot.engine`), as short sentences."""
    from lpot.engine import FEATURE_MEMBERS, REQUIRED_MEMBERS, Feature

    missing = [m for m in REQUIRED_MEMBERS if not hasattr(engine, m)]
    if missing:
        return [f"missing {', '.join(missing)}"]
    problems = []
    features = engine.features  # type: ignore[attr-defined]
    unknown = [f for f in features if f not in set(Feature)]
    if unknown:
        problems.append(
            f"unknown features {sorted(map(str, unknown))} (known: {', '.join(f.value for f in Feature)})"
        )
    for feature in features:
        lacking = [
            m for m in FEATURE_MEMBERS.get(Feature(feature), ()) if not callable(getattr(engine, m, None))
        ]
        if feature in set(Feature) and lacking:
            problems.append(f"declares feature {str(feature)!r} but has no {', '.join(lacking)}")
    aliases = engine.aliases  # type: ignore[attr-defined]
    if not isinstance(aliases, dict) or not all(isinstance(v, dict) for v in aliases.values()):
        problems.append("aliases must be a dict of {framework name: {setting: value}}")
    return problems


def backend_by_name(name: str) -> Any:
    """The :class:`~lpot.backend.Backend` around the engine registered as ``name``."""
    from lpot.backend import Backend

    return Backend(load_engine(name), registered=name)


def framework_names() -> dict[str, str]:
    """``{framework name: backend name}`` for every name ``model.framework`` may take (no import)."""
    names = {name: name for name in available("lpot.backends")}
    for alias, info in available("lpot.frameworks").items():
        backend = next((n for n, b in available("lpot.backends").items() if b.value == info.value), None)
        names.setdefault(alias, backend or alias)
    return names


def backend_for_framework(framework: str) -> tuple[Any, dict[str, Any]]:
    """The backend answering to ``framework`` (a backend name or an alias it publishes) and the
    settings the name implies (``{"format": "qdq"}``)."""
    names = framework_names()
    if framework not in names:
        raise BackendNotFoundError(_not_installed(framework, names))
    backend = backend_by_name(names[framework])
    declared = backend.engine.aliases
    if framework != backend.registered and framework not in declared:
        raise PluginError(
            f"the lpot.frameworks entry point {framework!r} points at backend {backend.registered!r}, "
            f"whose engine does not declare it in its aliases ({', '.join(declared) or 'none'})"
        )
    settings = dict(declared.get(framework, {}))
    if UNAVAILABLE in settings:  # a name LPOT users bring that this backend answers with a reason
        raise FeatureNotAvailableError(f"model.framework {framework!r}: {settings[UNAVAILABLE]}")
    return backend, settings


def _not_installed(framework: str, names: dict[str, str]) -> str:
    by_backend: dict[str, list[str]] = {}
    for alias, backend in sorted(names.items()):
        by_backend.setdefault(backend, []).append(alias)
    installed = "; ".join(f"{b} ({', '.join(a)})" for b, a in sorted(by_backend.items())) or "none"
    close = difflib.get_close_matches(framework, list(names), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    stem = framework.split("_")[0]
    return (
        f"no installed backend answers to model.framework {framework!r}; installed: {installed}.{hint} "
        f"Backends are packages named lpot-<framework> (for this one perhaps: pip install lpot-{stem})"
    )


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
        if backend.accepts(model):
            return backend
    shown = repr(model) if isinstance(model, str) else type(model).__module__ + "." + type(model).__qualname__
    raise BackendNotFoundError(
        f"no installed backend accepts model {shown}; installed backends: {', '.join(tried) or 'none'}. "
        "Install the backend for your framework (packages named lpot-<framework>) or set "
        "model.framework in the config."
    )
