"""Recipes built outside a tuning run (``convert`` after QAT, tests, examples)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lpot.recipe import FP32_OP, Recipe
from lpot_tensorflow.capability import STATIC, build_capability


def recipe_for(model: Any, int8_layers: Iterable[str] | None = None, **options: Any) -> Recipe:
    """INT8 (defaults) for ``int8_layers`` (default: all quantizable layers), FP32 for the rest."""
    cap = build_capability(model, STATIC)
    chosen = None if int8_layers is None else set(int8_layers)
    ops = {
        key: (c.default() if chosen is None or key.name in chosen else FP32_OP)
        for key, c in cap.opwise.items()
    }
    return Recipe(approach=STATIC, ops=ops, options={"format": "tflite", **options})
