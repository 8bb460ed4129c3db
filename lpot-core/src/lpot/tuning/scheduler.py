"""The scheduler of a run: proposals in flight, results released in proposal order.

A strategy may propose several independent recipes at once; an executor may finish them in any
order. The scheduler hands each proposal to the executor (or answers it from what is known: a
recipe proposed twice, or a trial replayed from an interrupted run's history) and releases the
results to the loop strictly in proposal order, so that a parallel run tells the strategy what a
serial run would, and a resumed run what the uninterrupted one did.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from lpot.recipe import Recipe
from lpot.strategies.base import Proposal
from lpot.trial import Trial
from lpot.tuning.executors import Executor


@dataclass
class Pending:
    """A proposal waiting to be released to the strategy."""

    ticket: int
    label: str
    recipe: Recipe
    key: str
    trial: Trial | None = None


class Scheduler:
    """``submit(index, label, recipe)`` starts a trial and returns None, or returns a trial that is
    already finished (failed before it could start); ``record(trial)`` commits a finished trial."""

    def __init__(
        self,
        executor: Executor,
        replay: Mapping[str, Trial],
        submit: Callable[[int, str, Recipe], Trial | None],
        record: Callable[[Trial], None],
    ) -> None:
        self.executor = executor
        self.replay = dict(replay)
        self._submit = submit
        self._record = record
        self.pending: deque[Pending] = deque()
        self.running: dict[str, list[Pending]] = {}
        self.known: dict[str, Trial] = {}  # trials of this run (run or replayed), by fingerprint
        self.distinct = 0  # distinct recipes of this run: what max_trials counts
        self._indices = {t.index for t in self.replay.values()}

    @property
    def busy(self) -> int:
        return self.executor.busy

    def add(self, proposal: Proposal) -> None:
        key = proposal.recipe.fingerprint()
        item = Pending(proposal.ticket, proposal.label, proposal.recipe, key)
        self.pending.append(item)
        if key in self.known:
            item.trial = self.known[key]
        elif key in self.running:
            self.running[key].append(item)
        else:
            self.distinct += 1
            if key in self.replay:
                item.trial = self.known[key] = self.replay[key]
                return
            done = self._submit(self._index(self.distinct), item.label, item.recipe)
            if done is None:
                self.running[key] = [item]
            else:
                item.trial = self.known[key] = done

    def release(self) -> Iterator[Pending]:
        """Finished proposals at the head of the queue, in proposal order."""
        while self.pending and self.pending[0].trial is not None:
            yield self.pending.popleft()

    def head_finished(self) -> bool:
        return bool(self.pending) and self.pending[0].trial is not None

    def met_waiting(self) -> bool:
        """A finished trial that meets the goal waits for an earlier proposal to finish."""
        return any(p.trial is not None and p.trial.met for p in self.pending)

    def collect(self) -> None:
        """Wait for the executor and record what finished (committed to the history now)."""
        for task, trial in self.executor.wait():
            self._record(trial)
            key = task.recipe.fingerprint()
            self.known[key] = trial
            for item in self.running.pop(key, []):
                item.trial = trial

    def _index(self, n: int) -> int:
        """The index of the n-th recipe of this run: ``n`` when free (what an uninterrupted run gives
        it, also when a resumed parallel run redoes a trial lost in flight), else the next unused."""
        top = max(self._indices, default=0)
        index = n if n not in self._indices and n <= top + 1 else top + 1
        self._indices.add(index)
        return index
