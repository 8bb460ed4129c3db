"""Value checks shared by the schema's ``__post_init__`` methods and the YAML loader.

Each check raises :class:`InvalidField` with the key *relative to where it was found*; whoever
knows more of the path (the enclosing config, then the loader) re-raises it one level up with
:meth:`InvalidField.under`, so the final message names the full dotted key from the root.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from lpot.errors import ConfigError

T = TypeVar("T")
DATALOADER = "(batch_size, dataset, transform, ...)"


class InvalidField(ConfigError):
    """A bad value (or an unknown key) at ``key``, a dotted path relative to ``owner``."""

    def __init__(self, key: str, reason: str, *, unknown: bool = False, owner: str | None = None) -> None:
        self.key, self.reason, self.unknown, self.owner = key, reason, unknown, owner
        super().__init__(self._render())

    def _render(self) -> str:
        if self.unknown:
            head = f"{self.owner}: " if self.owner else ""
            return f"{head}unknown key {self.key!r}{self.reason}"
        where = ".".join(p for p in (self.owner, self.key) if p)
        return f"{where}: {self.reason}" if where else self.reason

    def under(self, prefix: str) -> InvalidField:
        """The same problem seen from one level up: ``prefix`` is prepended to the key."""
        key = f"{prefix}.{self.key}" if prefix and self.key else (prefix or self.key)
        return InvalidField(key, self.reason, unknown=self.unknown)

    def owned_by(self, owner: str) -> InvalidField:
        return InvalidField(self.key, self.reason, unknown=self.unknown, owner=owner)


def validated(post_init: Callable[[Any], None]) -> Callable[[Any], None]:
    """Decorate ``__post_init__``: errors built from Python name the class (``ExitPolicy.max_trials``)."""

    @functools.wraps(post_init)
    def wrapper(self: Any) -> None:
        try:
            post_init(self)
        except InvalidField as exc:
            raise exc.owned_by(type(self).__name__) from None

    return wrapper


def nested(key: str, build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``build``; an error inside it is reported below ``key``."""
    try:
        return build(*args, **kwargs)
    except InvalidField as exc:
        raise exc.under(key) from None


def show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def suggest(word: str, allowed: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when a close match exists, else the allowed list."""
    allowed = [str(a) for a in allowed]
    close = difflib.get_close_matches(str(word), allowed, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(allowed)}"


def check_keys(data: Mapping[Any, Any], allowed: Iterable[str], prefix: str = "") -> None:
    allowed = list(allowed)
    for key in data:
        if key not in allowed:
            raise InvalidField(f"{prefix}{key}", suggest(str(key), allowed), unknown=True)


def choice(value: Any, allowed: Iterable[str], key: str) -> str:
    allowed = list(allowed)
    if value not in allowed:
        hint = suggest(str(value), allowed) if isinstance(value, str) else ""
        if hint.startswith("; expected"):
            hint = ""
        raise InvalidField(key, f"expected one of {', '.join(allowed)}, got {value!r}{hint}")
    return value


def integer(value: Any, key: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise InvalidField(key, f"expected {what}, got {show(value)}")
    return value


def number(value: Any, key: str, *, minimum: float | None = None, what: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidField(key, f"expected {what}, got {show(value)}{_yaml_float_hint(value)}")
    if minimum is not None and value < minimum:
        raise InvalidField(key, f"expected {what}, got {value!r}")
    return float(value)


def _yaml_float_hint(value: Any) -> str:
    """YAML 1.1 (PyYAML) reads ``1e308`` or ``3e2`` as a string: its floats need a dot and a signed
    exponent. Say so, with the spelling it reads as a number."""
    if not isinstance(value, str) or not re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value.strip()):
        return ""
    mantissa, exponent = re.split("[eE]", value.strip())
    mantissa = mantissa if "." in mantissa else f"{mantissa}.0"
    exponent = exponent if exponent[0] in "+-" else f"+{exponent}"
    return (
        f": YAML 1.1 reads {value!r} as a string (its floats need a dot and a signed exponent); "
        f"write {mantissa}e{exponent}"
    )


def boolean(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidField(key, f"expected true or false, got {show(value)}")
    return value


def text(value: Any, key: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(key, f"expected a non-empty string, got {show(value)}")
    return value


def identifier(value: Any, key: str) -> str:
    """A name such as a framework's: letters, digits, ``_``, ``-`` and ``.``."""
    text(value, key)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", value):
        raise InvalidField(key, f"expected a name such as onnxrt_qdqops, got {show(value)}")
    return value


def split_flow(value: str) -> list[str]:
    """LPOT's flow strings: ``"a, b"`` (or ``"a b"``) means the list ``[a, b]``."""
    parts = value.split(",") if "," in value else value.split()
    return [p.strip() for p in parts if p.strip()]


def texts(value: Any, key: str) -> tuple[str, ...]:
    """One string, a flow string ``"a, b"``, or a list of strings, as a tuple."""
    if isinstance(value, str):
        return tuple(split_flow(value))
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    raise InvalidField(key, f"expected a string or a list of strings, got {show(value)}")


def mapping(value: Any, key: str, example: str = "") -> dict[Any, Any] | None:
    """``None`` stays ``None``; a mapping is copied to a plain dict; anything else is an error."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        like = f" {example}" if example else ""
        raise InvalidField(key, f"expected a mapping{like}, got {show(value)}")
    return dict(value)


def instance(value: Any, cls: type, key: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, cls):
        raise InvalidField(key, f"expected a {cls.__name__}, got {show(value)}")


def unique(values: Iterable[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))


def without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
