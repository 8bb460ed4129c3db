"""Drive a strategy by hand in tests: ``start`` sets it up and wraps it for one-at-a-time use."""

from __future__ import annotations

from typing import Any

from lpot.goal import Goal
from lpot.strategies.base import WAIT, SearchContext
from lpot.trial import Trial


class OneAtATime:
    """``propose()`` / ``observe(trial)`` / ``label`` over a strategy's ask/tell (other names pass through)."""

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy
        self.open: Any = None
        self.label = ""

    def propose(self) -> Any:
        if self.open is not None:
            raise RuntimeError("propose() called twice without observe()")
        proposal = self.strategy.ask()
        if proposal is None:
            return None
        assert proposal is not WAIT, "the strategy waits for a trial that was never proposed"
        self.open, self.label = proposal, proposal.label
        return proposal.recipe

    def observe(self, trial: Trial) -> None:
        proposal, self.open = self.open, None
        self.strategy.tell(proposal.ticket, trial)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.strategy, name)


def start(
    strategy: Any,
    space: Any,
    history: Any = (),
    *,
    higher_is_better: bool = True,
    seed: int = 0,
    workers: int = 1,
    inspect: Any = None,
) -> OneAtATime:
    goal = Goal.absolute(1.0 if higher_is_better else 0.0, 0.01, higher_is_better)
    strategy.setup(SearchContext(space, goal, list(history), seed, workers, inspect))
    return OneAtATime(strategy)
