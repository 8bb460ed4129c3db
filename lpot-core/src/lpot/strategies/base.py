"""The ask/tell strategy protocol and a base class that lets a search read like a loop.

Strategies are deterministic given the results they are told, which is what makes resume exact:
the loop replays finished trials, and the strategy proposes what it would have proposed anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from lpot.recipe import Recipe
from lpot.tuning.space import TuningSpace
from lpot.tuning.trial import Trial

# A search yields (label, recipe) and receives the finished Trial for it.
Search = Generator[tuple[str, Recipe], Trial, None]

# What the loop offers a strategy that asks for it: ``inspect(recipe)`` quantizes ``recipe`` (with
# the cached calibration, no evaluation) and returns ``{op name: relative output MSE vs FP32}``.
Inspector = Callable[[Recipe], Mapping[str, float]]


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

    Optional parts of the protocol the loop honours (a plain :class:`Strategy` may omit them):

    - ``stop_reason``: set by :meth:`search` before it returns, says why the search ended
      ("all 256 recipes tried"); the loop reports it as the run's stop reason.
    - ``stop_at_first_met``: ``False`` for a strategy that keeps improving (e.g. re-quantizing ops
      for speed) after a recipe met the criterion; the loop then runs until the search ends.
    - ``use_inspector(inspect)``: called by the loop before :meth:`setup` with an
      :data:`Inspector`, for strategies that rank ops by their output error.
    """

    name = "search"
    stop_at_first_met = True
    stop_reason: str | None = None
    _inspector: Inspector | None = None

    def use_inspector(self, inspect: Inspector) -> None:
        self._inspector = inspect

    def op_errors(self, recipe: Recipe) -> dict[str, float]:
        """Per-op relative output error of ``recipe`` vs FP32; empty when nothing can inspect."""
        return dict(self._inspector(recipe)) if self._inspector is not None else {}

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
        self.stop_reason = None

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
