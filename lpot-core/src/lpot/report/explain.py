"""Sentences a report says about its numbers: why the chosen trial won, what a failed trial's
error was in one line. Shared by the HTML and Markdown reports (plain text, no markup)."""

from __future__ import annotations

from lpot.report.data import ReportData, TrialRow
from lpot.report.figures import accuracy_digits, accuracy_text, quantity

ERROR_LINE = 90  # characters of an error shown in the trials table; the rest on demand


def _higher_objective_is_better(unit: str) -> bool:
    """Throughput (samples/s) grows when better; latency, size and memory shrink."""
    return unit == "samples/s"


def chosen_reason(data: ReportData) -> str:
    """One sentence: why ``data.best`` is the chosen trial (the tuner's rule: met beats not met;
    among met, the better objective; among not met, the accuracy nearest the goal)."""
    best = data.best
    if best is None or best.accuracy is None:
        return ""
    unit = data.objective_unit
    digits = accuracy_digits([t.accuracy for t in data.trials if t.accuracy is not None], data.goal)
    sign = "≥" if data.meta.get("higher_is_better", True) else "≤"
    goal = accuracy_text(data.goal, digits) if data.goal is not None else "?"
    accuracy = f"accuracy {accuracy_text(best.accuracy, digits)} {sign} goal {goal}"
    if not best.met:
        return (
            f"No trial met the goal, so trial {best.index} is shown as the closest: "
            f"accuracy {accuracy_text(best.accuracy, digits)} against the goal {goal}."
        )
    met = [t for t in data.trials if t.met and t.status == "ok"]
    if len(met) == 1:
        rest = (
            "the search stopped there"
            if str(data.meta.get("stop_reason", "")).endswith("met the goal")
            else ""
        )
        return f"Trial {best.index} is the only trial that met the goal ({accuracy})" + (
            f"; {rest}." if rest else "."
        )
    which = "highest" if _higher_objective_is_better(unit) else "lowest"
    name = data.objective_name
    return (
        f"Trial {best.index} met the goal ({accuracy}) with the {which} {name}, "
        f"{quantity(best.objective, unit) if unit else best.objective}, of the {len(met)} trials that met it."
    )


def error_line(data: ReportData, trial: TrialRow) -> str:
    """A failed trial's error in one line: the first words, or which earlier trial failed the same way."""
    if not trial.error:
        return ""
    first = data.first_with_error(trial)
    if first.index != trial.index:
        return f"same error as trial {first.index}"
    head = " ".join(trial.error.split())
    return head if len(head) <= ERROR_LINE else head[: ERROR_LINE - 1] + "…"
