"""Everything a report shows, read once from a workspace's history (no framework needed)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lpot.tuning.history import read_workspace


@dataclass
class TrialRow:
    index: int
    label: str
    accuracy: float | None
    met: bool
    objective: float | None
    int8_ops: int
    fp32_ops: int
    status: str
    error: str | None


@dataclass
class OpRow:
    name: str
    op_type: str
    activation: str
    weight: str
    sensitivity: float | None
    quantized: bool = True  # an FP32 (or BF16) op has no INT8 error to measure


@dataclass
class ReportData:
    workspace: str
    meta: dict[str, Any]
    baseline_accuracy: float | None
    baseline_objective: float | None
    goal: float | None
    best_trial: int | None
    trials: list[TrialRow] = field(default_factory=list)
    best_ops: list[OpRow] = field(default_factory=list)

    @property
    def objective_name(self) -> str:
        return str(self.meta.get("objective", "objective"))

    @property
    def best(self) -> TrialRow | None:
        return next((t for t in self.trials if t.index == self.best_trial), None)

    @property
    def objective_unit(self) -> str:
        return str(self.meta.get("objective_unit", ""))

    def first_with_error(self, trial: TrialRow) -> TrialRow:
        """The earliest trial that failed with ``trial``'s error (``trial`` itself when it is new)."""
        return next(t for t in self.trials if t.error == trial.error)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["meta"] = {k: v for k, v in self.meta.items() if k != "config"}
        out["config"] = self.meta.get("config")
        return out


def _number(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def load_report(workspace: str | Path) -> ReportData:
    meta, baseline, trials = read_workspace(workspace)
    rows = [
        TrialRow(
            t.index,
            t.label,
            _number(t.accuracy),
            t.met,
            t.objective,
            len(t.recipe.quantized_ops()),
            len(t.recipe.fp32_ops()),
            t.status,
            t.error,
        )
        for t in trials
    ]
    best_index = meta.get("best_trial")
    best = next((t for t in trials if t.index == best_index), None)
    sensitivity = meta.get("sensitivity") or {}
    ops = []
    if best is not None:
        for key, cfg in sorted(best.recipe.ops.items(), key=lambda kv: kv[0].name):
            ops.append(
                OpRow(
                    key.name,
                    key.op_type,
                    describe_tensor(cfg.activation.to_dict()),
                    describe_tensor(cfg.weight.to_dict()) if cfg.weight else "-",
                    sensitivity.get(key.name),
                    cfg.is_quantized,
                )
            )
    return ReportData(
        workspace=str(workspace),
        meta=meta,
        baseline_accuracy=baseline[0] if baseline else None,
        baseline_objective=baseline[1] if baseline else None,
        goal=meta.get("goal"),
        best_trial=best_index,
        trials=rows,
        best_ops=ops,
    )


def describe_tensor(tensor: dict[str, str]) -> str:
    """``int8 asym per_tensor minmax``: a tensor config in one short cell."""
    return " ".join(
        str(v)
        for v in (
            tensor.get("dtype"),
            tensor.get("scheme"),
            tensor.get("granularity"),
            tensor.get("algorithm"),
        )
        if v
    )
