"""Bounds on what a config may cost to read: its size, its nesting depth and what its YAML aliases
expand to, checked before anything is built, expanded or hashed.

A config is a few kilobytes of settings. A 50 MiB value, a structure nested 5000 deep (Python's
recursion limit) or a "billion laughs" of aliases (9 aliases of 9 aliases ... expand to 9**9
values while the file stays tiny) would otherwise hang or crash the loader, the validation or the
config hash. YAML is checked on its event stream (no recursion, no expansion); a Python mapping by
an iterative walk that counts a shared sub-object once per place it appears, as hashing would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from lpot.errors import ConfigError

MAX_BYTES = 1 << 20  # 1 MiB of YAML, or of text in a Python config
MAX_DEPTH = 64  # mappings and lists inside each other
MAX_NODES = 1_000_000  # values once every alias is expanded


def check_file_size(path: str, size: int) -> None:
    if size > MAX_BYTES:
        raise ConfigError(
            f"{path}: the config file is {size / 2**20:.1f} MiB; a config is at most {MAX_BYTES >> 20} MiB "
            "(settings, not data: put large values in a file the config names)"
        )


def check_yaml(text: str, path: str, loader: type) -> None:
    """Depth and expanded size of a YAML text, from its events (malformed YAML is left to the parser)."""
    depth, nodes, anchors = 0, 0, {}
    stack: list[tuple[str | None, int]] = []  # (anchor, nodes before the collection started)
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(_too_deep(path))
                stack.append((event.anchor, nodes))
                nodes += 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
                anchor, before = stack.pop()
                if anchor:
                    anchors[anchor] = nodes - before
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
                if event.anchor:
                    anchors[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                nodes += anchors.get(event.anchor, 1)
            if nodes > MAX_NODES:
                raise ConfigError(
                    f"{path}: the config's YAML aliases expand to more than {MAX_NODES:,} values (an alias "
                    "bomb?); a config needs far fewer: write the values out or remove the aliases"
                )
    except yaml.YAMLError:
        return  # the parser says what is wrong, with its line and column


def check_data(data: Mapping[str, Any], where: str) -> None:
    """The same bounds for a config given as Python data (text counted in characters)."""
    todo: list[tuple[Any, int]] = [(data, 1)]
    nodes = chars = 0
    while todo:
        value, depth = todo.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise ConfigError(_too_deep(where))
        if nodes > MAX_NODES:
            raise ConfigError(
                f"{where}: the config holds more than {MAX_NODES:,} values (shared sub-objects count once "
                "per place); a config needs far fewer"
            )
        if isinstance(value, Mapping):
            todo.extend((v, depth + 1) for v in value.values())
            chars += sum(len(k) for k in value if isinstance(k, str))
        elif isinstance(value, (list, tuple)):
            todo.extend((v, depth + 1) for v in value)
        elif isinstance(value, str):
            chars += len(value)
        if chars > MAX_BYTES:
            raise ConfigError(
                f"{where}: the config holds more than {MAX_BYTES >> 20} MiB of text; settings, not data"
            )


def _too_deep(where: str) -> str:
    return f"{where}: the config is nested deeper than {MAX_DEPTH} levels; a config needs a handful"
