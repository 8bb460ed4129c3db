"""Tuning strategies: ask/tell searchers over a TuningSpace that never touch a framework."""

from __future__ import annotations

from typing import Any

from lpot.strategies.base import Strategy


def create_strategy(name: str, params: dict[str, Any] | None = None) -> Strategy:
    from lpot import plugins

    return plugins.create("lpot.strategies", name, **(params or {}))


__all__ = ["Strategy", "create_strategy"]
