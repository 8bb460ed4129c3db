"""Per-op error for strategies that rank ops by it (mse, sensitivity): quantize, inspect, compare.

No evaluation, only the backend's per-op outputs on a few calibration batches. Results are kept in
the history, so a resumed run tells the strategy exactly what the interrupted one was told.
"""

from __future__ import annotations

import logging

from lpot.recipe import Recipe
from lpot.tuning.context import RunContext

log = logging.getLogger("lpot")


class Inspector:
    """``inspector(recipe) -> {op name: relative output MSE vs FP32}`` (empty when nothing to inspect)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.known: dict[str, dict[str, float]] = dict(ctx.history.metadata().get("op_errors") or {})

    def __call__(self, recipe: Recipe) -> dict[str, float]:
        key = recipe.fingerprint()
        if key not in self.known:
            self.known[key] = self._measure(recipe)
            self.ctx.history.write_metadata({"op_errors": self.known})
            self.ctx.events.emit("inspected", fingerprint=key, ops=len(self.known[key]))
        return dict(self.known[key])

    def _measure(self, recipe: Recipe) -> dict[str, float]:
        job = self.ctx.job
        data = self.ctx.inspection_data()
        if data is None or not recipe.quantized_ops():
            return {}
        try:
            model = self.ctx.quantize(recipe)
        except Exception as exc:  # a recipe the backend cannot build has no op errors
            log.warning("inspection of a recipe failed, it cannot be ranked by op error: %s", exc)
            return {}
        return job.backend.op_errors(job.model, model, recipe.quantized_ops(), data)
