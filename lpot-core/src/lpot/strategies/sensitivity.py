"""Sensitivity strategy: fall back groups of ops and bisect, then re-quantize greedily.

Where ``basic`` falls back one op per trial (n trials before accumulating), this searches over
groups, so a model where k of n ops must stay FP32 needs about k·log2(n) trials, and about
k + 2·log2(k) with a ranking that puts those ops first:

1. The model-wise stage (``lpot.strategies._model_wise``, as in ``basic``): the default INT8 recipe,
   each model-wise setting changed alone, then the ones that helped combined; if one meets the
   criterion, done. The rest starts from the most accurate of them (``model_wise=False``: from the
   default alone), so no op is taken out of INT8 for what a setting of every op could fix.
2. Rank the INT8 ops, most sensitive first, by ``ranking``:
   ``"isolated"`` (default) each op's own output error when quantized alone, through the backend's
   ``inspect`` (one quantization per op, no evaluation); ``"model_wise"`` per-op error of the
   model-wise recipe (one inspection); ``"fallback"`` the accuracy each single-op fallback reaches
   (n trials, as ``basic``); ``"none"`` no ranking.
3. With a ranking: gallop (fall back the top 1, 2, 4, ... ops until the criterion holds, top m),
   then bisect between m/2 (fails) and m for the shortest passing prefix; its last op is needed.
   Without one (``"none"``, or ``inspect`` gave no errors, or all single fallbacks tie): every op
   in FP32 (one trial, which also checks that the goal can be met at all).
4. Re-quantize (``requantize=True``) the ops still in FP32, least sensitive first: try them all
   back in INT8 at once; if that fails, binary-search the longest run of them that can go back;
   the op that ends the run stays FP32; continue after it. Each needed op costs about log2(n)
   trials. This phase goes on after the first recipe that meets the goal (the loop keeps running
   until the strategy is done), so the answer keeps as many ops INT8 as it can.

It assumes more FP32 never hurts accuracy (true up to noise); then every recipe it keeps meets the
goal, and the final one (the most INT8) is the last trial that met it.
"""

from __future__ import annotations

from collections.abc import Generator

from lpot.errors import ConfigError
from lpot.recipe import OpKey, Recipe
from lpot.strategies._model_wise import model_wise_stage
from lpot.strategies._space import fallback
from lpot.strategies.base import Batch, Search, SearchStrategy, Traits, met
from lpot.strategies.mse import rank_by_error
from lpot.trial import Trial

RANKINGS = ("isolated", "model_wise", "fallback", "none")


class SensitivityStrategy(SearchStrategy):
    name = "sensitivity"
    traits = Traits(refines_after_met=True, wants_inspection=True)  # re-quantization improves a met recipe

    def __init__(self, ranking: str = "isolated", requantize: bool = True, model_wise: bool = True) -> None:
        if ranking not in RANKINGS:
            raise ConfigError(f"tuning.strategy.params.ranking: expected one of {RANKINGS}, got {ranking!r}")
        self.ranking = ranking
        self.requantize = requantize
        self.model_wise = model_wise

    def search(self) -> Search:
        stage = yield from model_wise_stage(self, self.space.default_recipe(), self.model_wise)
        if stage.met:
            self.stop_reason = "a model-wise recipe met the goal"
            return
        base = stage.best
        ops = base.quantized_ops()
        n = len(ops)
        informative = self.ranking != "none"
        if self.ranking == "fallback":
            singles = ((f"rank: fallback {op.name}", fallback(self.space, base, [op])) for op in ops)
            trials = yield Batch(singles, until=met)  # independent: in parallel on a parallel executor
            if trials and trials[-1].met:
                self.stop_reason = f"one op in FP32 ({ops[len(trials) - 1].name}) met the goal"
                return
            sensitivity: dict[OpKey, float] = {op: self.score(t) for op, t in zip(ops, trials)}
            ranked = sorted(ops, key=lambda op: -sensitivity[op])  # stable: ties in graph order
            informative = len(set(sensitivity.values())) > 1
        elif self.ranking == "none":
            ranked = list(ops)
        else:
            ranked, informative = rank_by_error(self, base, self.ranking)

        if informative:
            failing, m = 0, 1  # the longest prefix known to fail (0: the model-wise default)
            while True:
                m = min(m, n)
                trial = yield f"fallback top {m}/{n}", fallback(self.space, base, ranked[:m])
                if trial.met:
                    break
                if m == n:
                    self.stop_reason = f"the goal is not met even with all {n} tunable ops in FP32"
                    return
                failing, m = m, 2 * m
            passing = m
            while passing - failing > 1:
                mid = (failing + passing) // 2
                trial = yield f"bisect top {mid}/{n}", fallback(self.space, base, ranked[:mid])
                if trial.met:
                    passing = mid
                else:
                    failing = mid
            self._fp32 = list(ranked[:passing])
            candidates, known_to_fail = list(reversed(ranked[: passing - 1])), False
        else:  # no ranking to gallop over: every op in FP32 first, then re-quantize from there
            trial = yield f"fallback all {n}", fallback(self.space, base, ranked)
            if not trial.met:
                self.stop_reason = f"the goal is not met even with all {n} tunable ops in FP32"
                return
            self._fp32 = list(ranked)
            candidates, known_to_fail = list(reversed(ranked)), True  # all of them back is the default
        if self.requantize:
            yield from self._requantize(base, candidates, known_to_fail)
        kept = ", ".join(op.name for op in self._fp32)
        self.stop_reason = (
            f"{len(self._fp32)} of {n} ops kept in FP32 ({kept}) after bisection and re-quantization"
        )

    def _requantize(
        self, base: Recipe, rest: list[OpKey], known_to_fail: bool
    ) -> Generator[tuple[str, Recipe], Trial, None]:
        """Put ops of ``rest`` (all FP32 now, in this order) back in INT8 while the goal holds."""
        while rest:
            if not known_to_fail:
                trial = yield self._label_for(rest), self._recipe(base, rest)
                if trial.met:
                    self._fp32 = [op for op in self._fp32 if op not in rest]
                    return
            ok, bad = 0, len(rest)  # re-quantizing rest[:ok] meets the goal, rest[:bad] does not
            while bad - ok > 1:
                mid = (ok + bad) // 2
                trial = yield self._label_for(rest[:mid]), self._recipe(base, rest[:mid])
                if trial.met:
                    ok = mid
                else:
                    bad = mid
            self._fp32 = [op for op in self._fp32 if op not in rest[:ok]]  # rest[ok] stays FP32
            rest, known_to_fail = rest[bad:], False

    def _recipe(self, base: Recipe, back_to_int8: list[OpKey]) -> Recipe:
        return fallback(self.space, base, [op for op in self._fp32 if op not in back_to_int8])

    @staticmethod
    def _label_for(group: list[OpKey]) -> str:
        return f"re-quantize {group[0].name}" + (f" +{len(group) - 1}" if len(group) > 1 else "")
