"""The ask/tell strategy protocol and a base class that lets a search read like a loop.

Strategies are deterministic given the results they are told, which is what makes resume exact:
the loop replays finished trials, and the strategy proposes what it would have proposed anyway.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Protocol, runtime_checkable

from lpot.recipe import Recipe
from lpot.tuning.space import TuningSpace
from lpot.tuning.trial import Trial

# A search yields (label, recipe) and receives the finished Trial for it.
Search = Generator[tuple[str, Recipe], Trial, None]


@runtime_checkable
class Strategy(Protocol):
    name: str

    def setup(
        self, space: TuningSpace, history: Sequence[Trial], *, seed: int = 0, higher_is_better: bool = True
    ) -> None: ...
    def propose(self) -> Recipe | None: ...
    def observe(self, trial: Trial) -> None: ...

    @property
    def label(self) -> str: ...


class SearchStrategy:
    """Base class: subclasses write :meth:`search` as a generator of ``(label, recipe)``.

    ``self.space``, ``self.seed`` and ``self.history`` are set by :meth:`setup`; ``label`` names the
    stage of the last proposal ("model-wise", "fallback conv1", ...) for progress and reports.
    """

    name = "search"

    def setup(
        self, space: TuningSpace, history: Sequence[Trial], *, seed: int = 0, higher_is_better: bool = True
    ) -> None:
        self.space = space
        self.higher_is_better = higher_is_better
        self.history = list(history)
        self.seed = seed
        self._search = self.search()
        self._pending: Trial | None = None
        self._started = False
        self._done = False
        self._label = ""

    @property
    def label(self) -> str:
        return self._label

    def search(self) -> Search:
        raise NotImplementedError

    def propose(self) -> Recipe | None:
        if self._done:
            return None
        try:
            if not self._started:
                self._started = True
                label, recipe = next(self._search)
            else:
                if self._pending is None:
                    raise RuntimeError(f"{self.name}: propose() called twice without observe()")
                trial, self._pending = self._pending, None
                label, recipe = self._search.send(trial)
        except StopIteration:
            self._done = True
            return None
        self._label = label
        return recipe

    def observe(self, trial: Trial) -> None:
        self._pending = trial

    def score(self, trial: Trial) -> float:
        """Accuracy oriented so that larger is better; failed or NaN trials rank last."""
        if trial.status != "ok" or trial.accuracy != trial.accuracy:
            return float("-inf")
        return trial.accuracy if self.higher_is_better else -trial.accuracy
