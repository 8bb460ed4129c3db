"""What ``tune`` returns: always a model and a recipe, with a status that says how it ended."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from lpot.recipe import Recipe
from lpot.trial import Trial


class Status(str, Enum):
    """How a run ended (compares equal to its value, which is what history and JSON hold)."""

    MET = "met"  # a recipe meets the accuracy criterion
    BUDGET_SPENT = "budget_spent"  # max_trials or timeout ended the search before the goal was met
    EXHAUSTED = "exhausted"  # the strategy tried everything it would; the goal was not met
    FAILED = "failed"  # every trial failed: the result is the FP32 model

    __str__ = str.__str__
    __format__ = str.__format__


MET, BUDGET_SPENT, EXHAUSTED, FAILED = Status.MET, Status.BUDGET_SPENT, Status.EXHAUSTED, Status.FAILED


@dataclass
class TuningResult:
    """The tuned model (native to its framework) and everything measured on the way.

    When no recipe met the goal, ``model``/``recipe`` are still the best found (by accuracy) and
    ``status`` says why tuning stopped; ``warnings`` says, e.g., when INT8 measured slower than FP32.
    """

    model: Any
    recipe: Recipe
    status: str
    baseline_accuracy: float
    accuracy: float
    goal: float
    higher_is_better: bool
    trials: list[Trial]
    best_trial: Trial | None
    objective_name: str
    baseline_objective: float | None
    objective: float | None
    calibration_passes: int
    backend_name: str
    workspace: Path
    elapsed_s: float
    stop_reason: str
    warnings: list[str] = field(default_factory=list)
    new_calibration_passes: int = 0  # done by this call: 0 when a resume found every statistic stored
    objective_unit: str = ""
    objective_batch_size: int | None = None  # the batch a latency / throughput was measured at
    criterion: str = ""  # the accuracy criterion, as the config says it ("relative 0.01")
    # Trials a parallel executor ran past the decisive one (in the history, not in the search):
    # which ones depends on timing, so they are kept apart from ``trials``.
    uncounted_trials: list[Trial] = field(default_factory=list)
    _objective_higher_is_better: bool = field(default=False, repr=False)
    _backend: Any = field(default=None, repr=False)

    @property
    def met(self) -> bool:
        return self.status == MET

    @property
    def objective_change(self) -> str:
        """The tuned objective against FP32 in words: "2.01x faster", "1.40x slower", "3.9x smaller"."""
        from lpot.report.figures import ratio_phrase

        higher = bool(self._objective_higher_is_better)
        return ratio_phrase(self.baseline_objective, self.objective, self.objective_unit, higher)

    @property
    def objective_ratio(self) -> float | None:
        """FP32 objective / tuned objective: > 1 means the tuned model is better (faster/smaller)."""
        if not self.baseline_objective or not self.objective:
            return None
        return self.baseline_objective / self.objective

    def save(self, path: str | Path) -> Path:
        """Write the model in its framework's format plus ``recipe.json`` and ``summary.json``, all at
        once: into a temporary folder next to ``path``, fsynced, then renamed into place (a kill or a
        full disk leaves the previous folder, never a partial one). Returns the model file."""
        from lpot.tuning.workspace import write_folder

        def fill(folder: Path) -> Path:
            model_file = self._backend.save(self.model, folder)
            (folder / "recipe.json").write_text(json.dumps(self.recipe.to_dict(), indent=2))
            (folder / "summary.json").write_text(json.dumps(self.summary_dict(), indent=2, default=str))
            return model_file

        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        return write_folder(out, fill)

    def summary_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "stop_reason": self.stop_reason,
            "backend": self.backend_name,
            "baseline_accuracy": self.baseline_accuracy,
            "accuracy": self.accuracy,
            "goal": self.goal,
            "criterion": self.criterion,
            "objective": self.objective_name,
            "objective_unit": self.objective_unit,
            "objective_batch_size": self.objective_batch_size,
            "baseline_objective": self.baseline_objective,
            "tuned_objective": self.objective,
            "objective_ratio": self.objective_ratio,
            "objective_change": self.objective_change,
            "trials": len(self.trials),
            "best_trial": self.best_trial.index if self.best_trial else None,
            "calibration_passes": self.calibration_passes,
            "elapsed_s": self.elapsed_s,
            "warnings": self.warnings,
            "workspace": str(self.workspace),
        }

    def __str__(self) -> str:
        from lpot.report import result_summary

        return result_summary(self)
