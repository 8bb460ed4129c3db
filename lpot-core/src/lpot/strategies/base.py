"""The ask/tell strategy protocol and a base class that lets a search read like a loop.

Strategies are deterministic given the results they are told, which is what makes resume exact:
the loop replays finished trials, and the strategy proposes what it would have proposed anyway.

Ask/tell is the only protocol (:class:`Strategy`). Parallel executors need several proposals in
flight. A search says which of its proposals are independent by yielding a :class:`Batch`; the base
class hands its items out one ``ask()`` at a time, without waiting for results, and sends the
search the list of trials once the batch is decided. Proposals that must see a result first (a
plain ``(label, recipe)`` yield) still go one at a time, so a search is exactly as parallel as it
says it is and never less deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from lpot.goal import Goal
from lpot.recipe import Recipe
from lpot.space import TuningSpace
from lpot.trial import OK, Trial


class Batch:
    """Independent proposals: ``yield Batch(items, until=...)`` inside :meth:`SearchStrategy.search`.

    ``items`` is an iterable of ``(label, recipe)`` (it may be lazy and long, e.g. an enumeration);
    none of them depends on the result of another. The search receives the list of finished trials
    in item order, cut after the first trial for which ``until(trial)`` holds (``None``: never cut,
    the whole batch). That cut is what a serial run would see, so a search written with batches
    behaves exactly as the same search written one proposal at a time; a parallel run may have
    started items after the cut, which the loop records but does not count (see the loop).
    """

    def __init__(
        self, items: Iterable[tuple[str, Recipe]], until: Callable[[Trial], bool] | None = None
    ) -> None:
        self.items: Iterator[tuple[str, Recipe]] = iter(items)
        self.until = until


def met(trial: Trial) -> bool:
    """The usual cut of a batch: the first trial that meets the accuracy criterion."""
    return trial.met


# A search yields (label, recipe) and receives the finished Trial for it, or yields a Batch and
# receives the list of its trials up to the cut.
Search = Generator[tuple[str, Recipe] | Batch, Any, None]

# What the loop offers a strategy that asks for it: ``inspect(recipe)`` quantizes ``recipe`` (with
# the cached calibration, no evaluation) and returns ``{op name: relative output MSE vs FP32}``.
Inspector = Callable[[Recipe], Mapping[str, float]]


class _Wait:
    def __repr__(self) -> str:
        return "WAIT"


# ``ask()`` returns WAIT when the next proposal depends on a trial still in flight.
WAIT: Any = _Wait()


@dataclass(frozen=True)
class Proposal:
    """One proposal of :meth:`Strategy.ask`; its result goes back with ``tell(ticket, trial)``."""

    ticket: int
    label: str
    recipe: Recipe


@dataclass(frozen=True)
class Traits:
    """What the loop needs to know of a strategy, declared instead of probed.

    ``parallel_safe``: its independent proposals (batches) may run at once on a parallel executor
    (False: one trial at a time whatever the workers). ``refines_after_met``: it keeps improving
    after a recipe met the goal (the loop then runs until the search ends, not to the first met
    trial). ``wants_inspection``: it ranks ops by per-op error, so the loop hands it an
    :data:`Inspector` (quantize + inspect, no evaluation).
    """

    parallel_safe: bool = True
    refines_after_met: bool = False
    wants_inspection: bool = False


@dataclass(frozen=True)
class SearchContext:
    """What a strategy is given when a run starts (after the FP32 baseline, so the goal is known).

    ``history``: trials of an interrupted run, replayed into the strategy (it proposes what it would
    have anyway: resume is exact). ``workers``: how many trials run at once. ``inspect``: set for
    strategies with ``traits.wants_inspection``.
    """

    space: TuningSpace
    goal: Goal
    history: Sequence[Trial] = ()
    seed: int = 0
    workers: int = 1
    inspect: Inspector | None = field(default=None, compare=False)


@runtime_checkable
class Strategy(Protocol):
    """The one strategy protocol: ask for proposals, tell results. Never touches a framework.

    ``ask()`` returns the next :class:`Proposal`, :data:`WAIT` when the next one depends on a trial
    still in flight, or None when the search is over (``stop_reason`` then says why). ``tell``
    returns False for a result the search will not use (a batch item after the batch's cut).
    """

    name: str
    traits: Traits
    stop_reason: str | None

    def setup(self, context: SearchContext) -> None: ...
    def ask(self) -> Proposal | None: ...
    def tell(self, ticket: int, trial: Trial) -> bool: ...


class SearchStrategy:
    """Base class: subclasses write :meth:`search` as a generator of ``(label, recipe)`` or :class:`Batch`.

    ``self.space``, ``self.goal``, ``self.seed``, ``self.workers`` and ``self.history`` are set by
    :meth:`setup`; a search ends by returning, after setting ``self.stop_reason`` ("all 256 recipes
    tried"). Subclasses declare their :class:`Traits`.
    """

    name = "search"
    traits: ClassVar[Traits] = Traits()
    stop_reason: str | None = None

    def setup(self, context: SearchContext) -> None:
        self.space = context.space
        self.goal = context.goal
        self.history = list(context.history)
        self.seed = context.seed
        self.workers = context.workers
        self._inspector = context.inspect
        self._search = self.search()
        self._started = False
        self._done = False
        self.stop_reason = None
        self._tickets = 0
        self._current: _Step | None = None

    def op_errors(self, recipe: Recipe) -> dict[str, float]:
        """Per-op relative output error of ``recipe`` vs FP32; empty when nothing can inspect."""
        return dict(self._inspector(recipe)) if self._inspector is not None else {}

    def search(self) -> Search:
        raise NotImplementedError

    def ask(self) -> Proposal | None:
        """The next proposal, ``None`` when the search is over, or :data:`WAIT` when the next one
        depends on a trial that has not been told yet."""
        while not self._done:
            if self._current is None:
                self._advance(None)
                continue
            step = self._current
            if step.cut() is not None or step.complete():
                self._advance(step.results())
                continue
            proposal = step.next_proposal(self._new_ticket)
            if proposal is None:
                if step.complete():  # the batch just ran out and every item is told
                    continue
                return WAIT
            return proposal
        return None

    def tell(self, ticket: int, trial: Trial) -> bool:
        """The finished trial of proposal ``ticket``. False when the search will not use it: a batch
        item proposed before an earlier item cut the batch (the loop records it but does not count it)."""
        step = self._current
        return step is not None and step.tell(ticket, trial)

    def _new_ticket(self) -> int:
        self._tickets += 1
        return self._tickets

    def _advance(self, value: Any) -> None:
        try:
            if not self._started:
                self._started = True
                item = next(self._search)
            else:
                item = self._search.send(value)
        except StopIteration:
            self._done, self._current = True, None
            return
        self._current = _Step(item)

    def score(self, trial: Trial) -> float:
        """Accuracy oriented so that larger is better; failed or NaN trials rank last."""
        if trial.status != OK:
            return float("-inf")
        return self.goal.oriented(trial.accuracy)


class _Step:
    """What the search yielded last: one proposal or a :class:`Batch`, and the results told so far.

    Results must be told in ticket order within a batch (the loop tells in proposal order); then
    whether a trial is used (before the cut) is known when it is told.
    """

    def __init__(self, item: tuple[str, Recipe] | Batch) -> None:
        self.single = not isinstance(item, Batch)
        if isinstance(item, Batch):
            self.items, self.until = item.items, item.until
        else:
            self.items, self.until = iter([item]), None
        self.tickets: list[int] = []  # in item order
        self.position: dict[int, int] = {}
        self.trials: dict[int, Trial] = {}
        self.drained = False  # no more items
        self.told = 0  # leading positions told
        self.cut_at: int | None = None  # the first position (all before it told) meeting ``until``
        self.hit: int | None = None  # the lowest told position meeting ``until``

    def next_proposal(self, new_ticket: Callable[[], int]) -> Proposal | None:
        if self.hit is not None or self.drained:
            return None  # items after a known cut would never be used
        try:
            label, recipe = next(self.items)
        except StopIteration:
            self.drained = True
            return None
        ticket = new_ticket()
        self.position[ticket] = len(self.tickets)
        self.tickets.append(ticket)
        return Proposal(ticket, label, recipe)

    def tell(self, ticket: int, trial: Trial) -> bool:
        position = self.position.get(ticket)
        if position is None or ticket in self.trials:
            return False
        if self.hit is not None and self.hit < position:
            return False  # after a cut: a serial run would not have proposed it
        self.trials[ticket] = trial
        if self.until is not None and self.until(trial):
            self.hit = position
        while (
            self.cut_at is None and self.told < len(self.tickets) and self.tickets[self.told] in self.trials
        ):
            if self.hit == self.told:
                self.cut_at = self.told
            self.told += 1
        return True

    def cut(self) -> int | None:
        return self.cut_at

    def complete(self) -> bool:
        if not self.tickets:
            return self.drained and not self.single
        if not (self.drained or self.single):
            return False
        return self.told == len(self.tickets)

    def results(self) -> Any:
        if self.single:
            return self.trials[self.tickets[0]]
        end = len(self.tickets) if self.cut_at is None else self.cut_at + 1
        return [self.trials[t] for t in self.tickets[:end]]
