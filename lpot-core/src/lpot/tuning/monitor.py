"""The monitor of a run: which trials count, which is best, and when and why the run stops.

Kept apart from the loop and the scheduler (as in INC 3.x's ``TuningMonitor``), so each stop rule
is one small, tested method: the goal met (and the strategy does not refine), the budget
(``max_trials`` distinct recipes, ``timeout``), or the strategy out of proposals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lpot.goal import Goal
from lpot.trial import OK, Trial
from lpot.tuning.result import Status


@dataclass
class Monitor:
    """``stop_on_first``: no timeout, so the run stops at the first trial that meets the goal
    (unless the strategy ``refines`` after it); with a timeout it looks for the best until then."""

    goal: Goal
    objective_higher_is_better: bool
    max_trials: int
    timeout: float
    refines: bool = False
    started: float = field(default_factory=time.monotonic)
    trials: list[Trial] = field(default_factory=list)  # the trials that count, in proposal order
    surplus: dict[str, Trial] = field(default_factory=dict)  # ran and recorded, not counted
    best: Trial | None = None
    status: Status = Status.EXHAUSTED
    reason: str = "the strategy tried every recipe it would"
    stopping: bool = False
    decided: bool = False  # the goal is met: results after this one are not told
    _counted: set[str] = field(default_factory=set)

    @property
    def stop_on_first(self) -> bool:
        return self.timeout <= 0

    def count(self, trial: Trial, used: bool) -> bool:
        """Take a trial told to the strategy in proposal order; False when it does not count (the
        strategy did not use it, the goal was met before it, or it repeats a counted recipe)."""
        key = trial.fingerprint
        if self.decided or not used:
            if key not in self._counted:
                self.surplus.setdefault(key, trial)
            return False
        if key in self._counted:
            return False
        self._counted.add(key)
        self.surplus.pop(key, None)
        self.trials.append(trial)
        if self.better(trial):
            self.best = trial
        if trial.met and self.stop_on_first and not self.refines:
            self.stop(Status.MET, f"trial {trial.index} met the goal")
            self.decided = True
        return True

    def better(self, trial: Trial) -> bool:
        """Met beats not met; among met, the better objective; among not met, the better accuracy."""
        if trial.status != OK:
            return False
        best = self.best
        if best is None:
            return True
        if trial.met != best.met:
            return trial.met
        if trial.met:
            if trial.objective is None or best.objective is None:
                return False
            if self.objective_higher_is_better:
                return trial.objective > best.objective
            return trial.objective < best.objective
        return self.goal.oriented(trial.accuracy) > self.goal.oriented(best.accuracy)

    def budget_left(self, distinct: int) -> bool:
        """False (and stopping) once ``distinct`` recipes reach max_trials or the time is up."""
        if distinct >= self.max_trials:
            self.stop(Status.BUDGET_SPENT, f"max_trials={self.max_trials} reached")
        elif self.timeout > 0 and self.elapsed() > self.timeout:
            self.stop(Status.BUDGET_SPENT, f"timeout of {self.timeout:g}s reached")
        return not self.stopping

    def remaining(self) -> float | None:
        """Seconds left of the timeout (None: no timeout), for the trial about to run."""
        return None if self.timeout <= 0 else self.timeout - self.elapsed()

    def timed_out(self, trial: Trial) -> None:
        """A trial stopped by the timeout: it does not count (a resumed run runs it again)."""
        self.surplus.setdefault(trial.fingerprint, trial)
        if not self.decided:
            reason = f"timeout of {self.timeout:g}s reached: trial {trial.index} ({trial.label}) was stopped"
            self.stop(Status.BUDGET_SPENT, reason)

    def search_ended(self, reason: str | None) -> None:
        self.stop(self.status, reason or self.reason)

    def stop(self, status: Status, reason: str) -> None:
        self.status, self.reason, self.stopping = status, reason, True

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def outcome(self) -> tuple[Status, str]:
        """The run's status and why, once it has stopped."""
        best = self.best
        if self.trials and all(t.status != OK for t in self.trials):
            return (
                Status.FAILED,
                f"every one of {len(self.trials)} trials failed; the first: {self.trials[0].error}",
            )
        if best is None or not best.met:
            return self.status, self.reason
        if not self.stop_on_first:
            return (
                Status.MET,
                f"best of {len(self.trials)} trials within the budget; search ended: {self.reason}",
            )
        if self.status != Status.MET:  # a refining strategy went on after the first recipe that met the goal
            first = next(t for t in self.trials if t.met)
            return (
                Status.MET,
                f"trial {first.index} met the goal, then the strategy refined it; {self.reason}",
            )
        return Status.MET, self.reason
