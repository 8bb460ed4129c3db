"""The calibration store: statistics once per (model, calibration data, spec), for the whole run.

Statistics depend on the model, the calibration data, the algorithm and the sampling size, never on
which ops fall back, so a 30-trial fallback search calibrates once or twice, not 30 times. Entries
live in memory and in ``<workspace>/calibration/`` as JSON (plus an engine's artifacts as files),
keyed by all four: a resumed run calibrates nothing again, a run on other data or another model
never reads them. The one invalidation policy: when a fresh run starts, entries of other models or
other data are deleted; entries that match are kept (same model, same data: same statistics).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lpot.data import LimitedLoader
from lpot.data.fingerprint import data_fingerprint
from lpot.engine import CalibrationSpec, Stats
from lpot.errors import DataError, WorkspaceError
from lpot.events import EventSink, NullSink
from lpot.recipe import Recipe
from lpot.tuning.workspace import write_file

log = logging.getLogger("lpot")


class CalibrationStore:
    """Stats per :class:`CalibrationSpec` for one model and one calibration loader."""

    def __init__(
        self,
        backend: Any,
        model: object,
        dataloader: Iterable[Any] | None,
        *,
        folder: Path | None,
        model_fingerprint: str,
        events: EventSink | None = None,
        passes: int = 0,
        on_pass: Callable[[int], None] | None = None,
        calibrated_options: Iterable[str] = (),
    ) -> None:
        self.backend = backend
        self.model = model
        self.dataloader = dataloader
        self.folder = folder
        self.model_fingerprint = model_fingerprint
        self.events = events or NullSink()
        self.passes = passes  # calibrations of the run, an interrupted part included
        self.new_passes = 0  # calibrations in this process
        self.on_pass = on_pass  # told the new total after each calibration (the history keeps it)
        self.calibrated_options = frozenset(calibrated_options)  # see Capability.calibrated_options
        self._stats: dict[CalibrationSpec, Stats] = {}
        self._data: dict[int, str] = {}  # sampling size -> data fingerprint

    def stats_for(self, recipe: Recipe) -> dict[str, Stats]:
        """The statistics a recipe needs, keyed by calibration algorithm."""
        graph = tuple(sorted((k, v) for k, v in recipe.options.items() if k in self.calibrated_options))
        return {
            algorithm: self.get(
                CalibrationSpec(algorithm=algorithm, sampling_size=recipe.calib_sampling_size, graph=graph)
            )
            for algorithm in sorted(recipe.calibration_algorithms())
        }

    def get(self, spec: CalibrationSpec) -> Stats:
        if spec in self._stats:
            return self._stats[spec]
        if self.dataloader is None:
            raise DataError(
                "static quantization needs calibration data: pass q_dataloader (an iterable of "
                "(inputs, labels) batches) or use quantization.approach: post_training_dynamic_quant"
            )
        key = self.key(spec)
        stats = self._read(key)
        if stats is None:
            graph = "".join(f", {k}={v}" for k, v in spec.graph)
            log.info("calibrating: %s over %d samples%s", spec.algorithm, spec.sampling_size, graph)
            stats = self.backend.calibrate(self.model, self.dataloader, spec)
            self.passes += 1
            self.new_passes += 1
            if self.on_pass is not None:
                self.on_pass(self.passes)
            self.events.emit(
                "calibrated",
                algorithm=spec.algorithm,
                sampling_size=spec.sampling_size,
                graph=dict(spec.graph),
                samples=stats.samples_seen,
                tensors=len(stats.ranges),
            )
            self._write(key, stats)
            if 0 < stats.samples_seen < spec.sampling_size:
                log.warning(
                    "quantization.calibration.sampling_size %d is more than the %d samples the calibration "
                    "dataloader holds: calibration used those %d (give more data, or a smaller sampling_size)",
                    spec.sampling_size,
                    stats.samples_seen,
                    stats.samples_seen,
                )
        self._stats[spec] = stats
        return stats

    def key(self, spec: CalibrationSpec) -> str:
        """``<model>-<data>-<algorithm>-<sampling size>``: what the statistics depend on."""
        return f"{self._prefix(spec.sampling_size)}{spec.key()}"

    def _prefix(self, sampling_size: int) -> str:
        data = self._data.get(sampling_size)
        if data is None:
            data = data_fingerprint(LimitedLoader(self.dataloader or [], sampling_size), labels=False)
            self._data[sampling_size] = data
        return f"{self.model_fingerprint[:16]}-{data.replace(':', '_')[:20]}-"

    def prune(self, sampling_sizes: Iterable[int]) -> None:
        """A fresh run: delete the entries of other models or other calibration data."""
        if self.folder is None or not self.folder.is_dir():
            return
        keep = tuple(self._prefix(n) for n in sampling_sizes) if self.dataloader is not None else ()
        for path in self.folder.iterdir():
            if not (keep and path.name.startswith(keep)):
                path.unlink(missing_ok=True)

    def _read(self, key: str) -> Stats | None:
        if self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            artifacts = {
                name: (self.folder / f"{key}.{name}.bin").read_bytes() for name in data.get("artifacts", [])
            }
            return Stats.from_dict(data, artifacts)
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable calibration cache %s", path)
            return None

    def _write(self, key: str, stats: Stats) -> None:
        """Store the statistics for later runs; a cache that cannot be written (a full disk) is a
        warning: this run has them in memory, and the next commit says what is wrong."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for name, content in stats.artifacts.items():
                write_file(self.folder / f"{key}.{name}.bin", content, "caching calibration statistics in")
            write_file(
                self.folder / f"{key}.json",
                json.dumps(stats.to_dict()).encode(),
                "caching calibration statistics in",
            )
        except (WorkspaceError, OSError) as exc:
            log.warning("calibration statistics are not cached: %s", exc)
