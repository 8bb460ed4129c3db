"""One tried recipe and what it measured: the unit of history, resume and reports."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lpot.recipe import Recipe

OK = "ok"  # the trial ran: quantized, evaluated, measured
FAILED = "failed"  # the backend could not build or run the recipe (kept so it is never retried)
TIMED_OUT = "timeout"  # stopped by tuning.exit_policy.timeout (run again when the run is resumed)


@dataclass(frozen=True, kw_only=True)
class Trial:
    """A finished trial. ``met`` says whether its accuracy meets the criterion against the baseline.

    ``objective`` is measured for every trial that ran (reports plot accuracy against it).
    A ``failed`` trial is one the backend could not quantize; it is kept so it is never retried.
    """

    index: int
    recipe: Recipe
    label: str
    accuracy: float
    met: bool
    objective: float | None = None
    status: str = OK
    error: str | None = None
    quantize_s: float = 0.0
    evaluate_s: float = 0.0
    replayed: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)  # how it was decided (staged evaluation)

    @property
    def fingerprint(self) -> str:
        return self.recipe.fingerprint()

    def to_row(self) -> dict[str, Any]:
        return {
            "idx": self.index,
            "fingerprint": self.fingerprint,
            "label": self.label,
            "recipe": self.recipe.to_json(),
            "accuracy": None if math.isnan(self.accuracy) else self.accuracy,
            "met": int(self.met),
            "objective": self.objective,
            "status": self.status,
            "error": self.error,
            "quantize_s": self.quantize_s,
            "evaluate_s": self.evaluate_s,
            "details": json.dumps(dict(self.details), sort_keys=True) if self.details else None,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Trial:
        return cls(
            index=int(row["idx"]),
            recipe=Recipe.from_json(row["recipe"]),
            label=row["label"],
            accuracy=float("nan") if row["accuracy"] is None else float(row["accuracy"]),
            met=bool(row["met"]),
            objective=row["objective"],
            status=row["status"],
            error=row["error"],
            quantize_s=float(row["quantize_s"]),
            evaluate_s=float(row["evaluate_s"]),
            replayed=True,
            details=json.loads(row.get("details") or "{}"),
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-able digest for tables: counts of INT8/FP32 ops rather than the whole recipe."""
        return {
            "trial": self.index,
            "label": self.label,
            "accuracy": self.accuracy,
            "met": self.met,
            "objective": self.objective,
            "int8_ops": len(self.recipe.quantized_ops()),
            "fp32_ops": len(self.recipe.fp32_ops()),
            "status": self.status,
        }
