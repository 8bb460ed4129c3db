"""Diagnosis of one trial: per-op error, op-wise precision, calibrated activation ranges.

All of it was written by the run: per-op errors are in the history metadata (``op_errors`` by
recipe fingerprint for the recipes a strategy inspected, ``sensitivity`` for the chosen one), the
precision of each op is the trial's recipe, and the ranges are the calibration statistics cached
in ``calibration/*.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpot.backend import Stats
from lpot.errors import LpotError
from lpot.report.data import describe_tensor
from lpot.trial import Trial
from lpot.tuning.history import read_workspace


class TrialNotFound(LpotError, LookupError):
    """The run has no trial of that index."""


@dataclass
class OpPrecision:
    name: str
    op_type: str
    activation: str
    weight: str
    fp32: bool
    error: float | None


@dataclass
class Diagnosis:
    trial: Trial
    errors_source: str  # where the per-op errors come from, or why there are none
    errors: dict[str, float]
    ops: list[OpPrecision]
    calibration: list[Stats] = field(default_factory=list)
    best_trial: int | None = None

    @property
    def fp32_ops(self) -> list[str]:
        return [op.name for op in self.ops if op.fp32]


def diagnose(folder: Path, index: int) -> Diagnosis:
    meta, _, trials = read_workspace(folder)
    trial = next((t for t in trials if t.index == index), None)
    if trial is None:
        raise TrialNotFound(f"{folder.name} has no trial {index} (it has {len(trials)})")
    errors, source = _op_errors(meta, trial)
    ops = [
        OpPrecision(
            key.name,
            key.op_type,
            describe_tensor(cfg.activation.to_dict()),
            describe_tensor(cfg.weight.to_dict()) if cfg.weight else "-",
            not cfg.is_quantized,
            errors.get(key.name),
        )
        for key, cfg in sorted(trial.recipe.ops.items(), key=lambda kv: kv[0])
    ]
    return Diagnosis(trial, source, errors, ops, _calibration(folder, trial), meta.get("best_trial"))


def _op_errors(meta: dict[str, Any], trial: Trial) -> tuple[dict[str, float], str]:
    inspected = (meta.get("op_errors") or {}).get(trial.fingerprint)
    if inspected:
        return dict(inspected), "measured by the strategy on this recipe"
    if trial.index == meta.get("best_trial") and meta.get("sensitivity"):
        return dict(meta["sensitivity"]), "measured on the chosen recipe at the end of the run"
    if trial.index == meta.get("best_trial") and meta.get("status") == "running":
        return {}, "measured for the chosen recipe when the run ends"
    return {}, (
        "not measured for this trial: lpot measures per-op error on the chosen recipe, and on every "
        "recipe the mse and sensitivity strategies inspect"
    )


def _calibration(folder: Path, trial: Trial) -> list[Stats]:
    """The cached statistics this trial's recipe was quantized with (by algorithm and sampling size)."""
    wanted = trial.recipe.calibration_algorithms()
    found = []
    for path in sorted((folder / "calibration").glob("*.json")):
        try:
            stats = Stats.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if stats.spec.algorithm in wanted and stats.spec.sampling_size == trial.recipe.calib_sampling_size:
            found.append(stats)
    return found
