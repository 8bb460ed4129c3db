"""MSE strategy: quantize model-wise, rank ops by their output error against FP32, fall back in order.

1. The model-wise stage (``lpot.strategies._model_wise``, as in ``basic`` and in the original
   tool's MSE strategy): the default INT8 recipe, each model-wise setting changed alone, then the
   ones that helped combined. If one meets the criterion, done; else the most accurate of them is
   the recipe ranked and fallen back from (``model_wise=False``: the default alone).
2. Rank its INT8 ops by relative output MSE vs FP32 (``||q - f||² / ||f||²`` over a few calibration
   batches, through the backend's ``inspect``; no evaluation), largest first:

   - ``ranking="model_wise"`` (default, as in the original tool): one inspection of the model-wise
     recipe. Cheap, but an op downstream of a damaging one inherits its error.
   - ``ranking="isolated"``: each op quantized alone (every other op FP32), one inspection per op.
     Costs one quantization per op (still no evaluation) and measures each op's own damage.

3. Fall back cumulatively in that order (top 1, top 2, ...) until the criterion holds.

Works with every backend that implements ``inspect``; where inspection gives nothing (an op the
backend cannot observe), those ops come last in graph order.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from lpot.errors import ConfigError
from lpot.recipe import OpKey, Recipe
from lpot.strategies._model_wise import model_wise_stage
from lpot.strategies._space import fallback
from lpot.strategies.base import Batch, Search, SearchStrategy, Traits, met

log = logging.getLogger("lpot")
RANKINGS = ("model_wise", "isolated")


class MseStrategy(SearchStrategy):
    name = "mse"
    traits = Traits(wants_inspection=True)

    def __init__(self, ranking: str = "model_wise", model_wise: bool = True) -> None:
        if ranking not in RANKINGS:
            raise ConfigError(f"tuning.strategy.params.ranking: expected one of {RANKINGS}, got {ranking!r}")
        self.ranking = ranking
        self.model_wise = model_wise

    def search(self) -> Search:
        stage = yield from model_wise_stage(self, self.space.default_recipe(), self.model_wise)
        if stage.met:
            self.stop_reason = "a model-wise recipe met the goal"
            return
        base = stage.best
        ranked, _ = rank_by_error(self, base, self.ranking)
        prefixes = (
            (f"mse fallback {n}/{len(ranked)} ({ranked[n - 1].name})", fallback(self.space, base, ranked[:n]))
            for n in range(1, len(ranked) + 1)
        )
        trials = yield Batch(prefixes, until=met)  # independent: in parallel on a parallel executor
        if trials and trials[-1].met:
            self.stop_reason = f"{len(trials)} ops in FP32 by MSE order met the goal"
            return
        self.stop_reason = f"every one of {len(ranked)} ops fell back in MSE order without meeting the goal"


def rank_by_error(strategy: SearchStrategy, base: Recipe, ranking: str) -> tuple[list[OpKey], bool]:
    """``base``'s INT8 ops, largest output error first (ties and uninspected ops in graph order),
    and whether any op had an error to rank by."""
    ops = base.quantized_ops()
    order = {op: i for i, op in enumerate(strategy.space.ops)}
    errors: dict[str, float] = {}
    if ranking == "model_wise":
        errors = strategy.op_errors(base)
    else:  # each op alone, under the default model-wise options: an option such as bias correction
        # would cost a pass per op, and an op's own damage hardly depends on them
        plain = replace(base, options=dict(strategy.space.default_recipe().options))
        everything_fp32 = plain.fallback(ops)  # the reference is FP32 itself
        for op in ops:
            alone = strategy.op_errors(everything_fp32.with_ops({op: base.op(op)}))
            if op.name in alone:
                errors[op.name] = alone[op.name]
    errors = {k: (float("inf") if v != v else v) for k, v in errors.items()}  # NaN: as bad as it gets
    if not errors:
        log.warning(
            "%s: the backend's inspect gave no per-op errors; ranking ops in graph order", strategy.name
        )
    return sorted(ops, key=lambda op: (-errors.get(op.name, float("-inf")), order.get(op, 0))), bool(errors)
