"""A progress bar for tuning (trial n of max, current best), quiet when asked."""

from __future__ import annotations

import logging
import sys
from typing import Any

from lpot.trial import Trial


class Progress:
    """tqdm bar on stderr; with ``enabled=False`` (``--quiet``) it prints nothing."""

    def __init__(self, total: int, *, enabled: bool, baseline: float, goal: float) -> None:
        self.enabled = enabled
        self.total = total
        self.baseline = baseline
        self.goal = goal
        self._bar: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from tqdm import tqdm
            from tqdm.contrib.logging import logging_redirect_tqdm

            # log lines print above the bar instead of through it (the CLI's handler sits on the root)
            self._redirect = logging_redirect_tqdm(loggers=[logging.root, logging.getLogger("lpot")])
            self._redirect.__enter__()
            self._bar = tqdm(
                total=self.total,
                desc="tuning",
                unit="trial",
                file=sys.stderr,
                dynamic_ncols=True,
                disable=None,  # no bar fragments in a log file or a CI console (not a terminal)
            )
            self._bar.set_postfix_str(f"fp32 {self.baseline:.4f}, goal {self.goal:.4f}")
        return self

    def update(self, trial: Trial, best: Trial | None) -> None:
        if self._bar is None:
            return
        best_text = (
            f"best #{best.index} {best.accuracy:.4f}{' met' if best.met else ''}" if best else "no best yet"
        )
        self._bar.set_postfix_str(f"#{trial.index} {trial.label}: {trial.accuracy:.4f}; {best_text}")
        self._bar.update(1)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
            self._redirect.__exit__(None, None, None)


class ProgressLoader:
    """A loader that shows a transient progress bar each time it is iterated (evaluation, calibration)."""

    def __init__(self, loader: Any, desc: str) -> None:
        self.loader = loader
        self.desc = desc

    def __iter__(self) -> Any:
        from tqdm import tqdm

        total = len(self.loader) if hasattr(self.loader, "__len__") else None
        yield from tqdm(
            self.loader,
            desc=self.desc,
            total=total,
            leave=False,
            unit="batch",
            file=sys.stderr,
            dynamic_ncols=True,
            disable=None,
        )

    def __len__(self) -> int:
        return len(self.loader)


def with_progress(loader: Any, desc: str, enabled: bool) -> Any:
    return ProgressLoader(loader, desc) if enabled and loader is not None else loader


def without_progress(loader: Any) -> Any:
    """The loader :func:`with_progress` wrapped (reads that are not the user's stage: no bars)."""
    return loader.loader if isinstance(loader, ProgressLoader) else loader
