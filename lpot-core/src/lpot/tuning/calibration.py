"""Calibration once per spec: the statistics every trial of a run shares.

Statistics depend on (model, calibration data, algorithm, sampling size), never on which ops fall
back, so a 30-trial fallback search calibrates once or twice, not 30 times. They are also written
to the workspace as JSON, so a resumed run does not calibrate again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lpot.backend import Backend, CalibrationSpec, Stats
from lpot.data import LimitedLoader
from lpot.errors import DataError
from lpot.recipe import Recipe
from lpot.tuning.runlog import event

log = logging.getLogger("lpot")


class CalibrationCache:
    """Stats per :class:`CalibrationSpec`, in memory and in ``<workspace>/calibration/``."""

    def __init__(
        self,
        backend: Backend,
        model: object,
        dataloader: Iterable[Any] | None,
        *,
        store: Path | None,
        model_fingerprint: str,
    ) -> None:
        self.backend = backend
        self.model = model
        self.dataloader = dataloader
        self.store = store
        self.model_fingerprint = model_fingerprint
        self.passes = 0  # calls to backend.calibrate in this process
        self._stats: dict[CalibrationSpec, Stats] = {}

    def stats_for(self, recipe: Recipe) -> dict[str, Stats]:
        """The statistics a recipe needs, keyed by calibration algorithm."""
        return {
            algorithm: self.get(
                CalibrationSpec(algorithm=algorithm, sampling_size=recipe.calib_sampling_size)
            )
            for algorithm in sorted(recipe.calibration_algorithms())
        }

    def get(self, spec: CalibrationSpec) -> Stats:
        if spec in self._stats:
            return self._stats[spec]
        stats = self._read(spec)
        if stats is None:
            if self.dataloader is None:
                raise DataError(
                    "static quantization needs calibration data: pass q_dataloader (an iterable of "
                    "(inputs, labels) batches) or use quantization.approach: post_training_dynamic_quant"
                )
            log.info("calibrating: %s over %d samples", spec.algorithm, spec.sampling_size)
            stats = self.backend.calibrate(
                self.model, LimitedLoader(self.dataloader, spec.sampling_size), spec
            )
            self.passes += 1
            event(
                "calibrated",
                algorithm=spec.algorithm,
                sampling_size=spec.sampling_size,
                samples=stats.samples_seen,
                tensors=len(stats.ranges),
            )
            self._write(stats)
        self._stats[spec] = stats
        return stats

    def _file(self, spec: CalibrationSpec) -> Path | None:
        if self.store is None:
            return None
        return self.store / f"{self.model_fingerprint[:16]}-{spec.key()}.json"

    def _read(self, spec: CalibrationSpec) -> Stats | None:
        path = self._file(spec)
        if path is None or not path.exists():
            return None
        try:
            return Stats.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable calibration cache %s", path)
            return None

    def _write(self, stats: Stats) -> None:
        path = self._file(stats.spec)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stats.to_dict()))
        tmp.replace(path)
