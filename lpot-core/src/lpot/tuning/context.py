"""What the parts of one run share: the job, its history, its calibration store, its event sink."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpot.backend import Backend
from lpot.events import EventSink
from lpot.objectives import Objective
from lpot.recipe import Recipe
from lpot.space import TuningSpace
from lpot.strategies.base import Strategy
from lpot.tuning.calibration import CalibrationStore
from lpot.tuning.evaluation import Evaluator
from lpot.tuning.history import History


@dataclass
class TuningJob:
    """Everything one run needs, resolved from the user's arguments and config."""

    backend: Backend
    model: Any
    space: TuningSpace
    strategy: Strategy
    evaluator: Evaluator
    objective: Objective
    criterion: Any  # lpot.config.AccuracyCriterion: builds the Goal once the baseline is known
    q_dataloader: Iterable[Any] | None
    bench_dataloader: Iterable[Any] | None
    workspace: Path
    resume: bool
    max_trials: int
    timeout: float
    seed: int
    config_hash: str
    run_metadata: dict[str, Any]
    progress: bool = True
    tensorboard: bool = False
    q_func: Any = None  # quantization-aware training: the user's training loop, given the prepared model
    executor: Any = None  # lpot.config.ExecutorConfig; None: serial
    performance_only: bool = False  # accuracy not evaluated (tuning.exit_policy.performance_only)
    data_version: str | None = None  # the user's name for the data, instead of reading it to hash it


@dataclass
class RunContext:
    job: TuningJob
    history: History
    store: CalibrationStore
    events: EventSink
    started: float
    models: dict[str, Any] = field(default_factory=dict)  # fingerprint -> quantized model (the best so far)

    def quantize(self, recipe: Recipe) -> Any:
        """``recipe`` applied to the FP32 model with the run's cached statistics (never recalibrates)."""
        job = self.job
        return job.backend.quantize(
            job.model,
            recipe,
            self.store.stats_for(recipe),
            job.space.tensors,
            train=job.q_func,
            calibration=self.calibration_data(),
        )

    def calibration_data(self) -> Iterable[Any] | None:
        """The calibration data as quantize reads it (a bias correction, QAT), without bars."""
        from lpot.tuning.progress import without_progress

        return without_progress(self.job.q_dataloader)

    def inspection_data(self) -> Iterable[Any] | None:
        """A few batches for per-op inspection: calibration data, else the benchmark data, no bars."""
        from lpot.tuning.progress import without_progress

        return without_progress(self.job.q_dataloader or self.job.bench_dataloader)
