"""Shared by ``tensorflow_real_models.py`` and ``mxnet_real_models.py``: interleaved timing and the
speed-parity table (issue 17, deliverable 7), framework-free so each runs in its own venv."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lpot.report import table

PARITY = 0.95  # the deliverable: lpot >= 0.95x the hand-made path's speed at equal or better metric
Timing = tuple[float, float]  # (median ms, spread = slowest round / fastest round)


def load_average() -> str:
    """The 1-minute load average (the machine is shared: every figure is read next to it)."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def interleaved(
    calls: Mapping[str, Callable[[np.ndarray], None]], x: np.ndarray, rounds: int
) -> dict[str, Timing]:
    """Median ms per call of each model, timed in turn within every round so that load drifts
    hit all alike, the order rotated each round (no model always runs after the same one, e.g.
    after TensorFlow's spinning thread pools); within a round a model gets about 0.5 s of calls
    (at least 2)."""
    for call in calls.values():  # warm up: primitives, interpreter plans, weight reorders
        for _ in range(2):
            call(x)
    per_round: dict[str, list[float]] = {k: [] for k in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            call = calls[name]
            times: list[float] = []
            started = time.perf_counter()
            while len(times) < 2 or (time.perf_counter() - started < 0.5 and len(times) < 50):
                t0 = time.perf_counter()
                call(x)
                times.append((time.perf_counter() - t0) * 1000.0)
            per_round[name].append(statistics.median(times))
    return {k: (statistics.median(v), max(v) / min(v)) for k, v in per_round.items()}


def parity_rows(
    models: Mapping[str, Any],
    metrics: Mapping[str, float],
    timings: Mapping[int, Mapping[str, Timing]],
    notes: Mapping[str, str],
    fp32: str,
    ours: str,
    hand_made: Sequence[str],
) -> dict[str, list[list[Any]]]:
    """The model table (metric, ms, speed vs FP32 and spread per batch) and the parity table (lpot
    vs each hand-made path: speed ratio per batch, metric, verdict)."""
    batches = sorted(timings)
    rows = []
    for name in models:
        row: list[Any] = [name, round(metrics[name], 4)]
        for b in batches:
            ms, spread = timings[b][name]
            row += [round(ms, 2), f"{timings[b][fp32][0] / ms:.2f}x", f"{spread:.2f}"]
        rows.append([*row, notes.get(name, "")])
    parity = []
    for hand in hand_made:
        ratios = [timings[b][hand][0] / timings[b][ours][0] for b in batches]
        as_good = metrics[ours] >= metrics[hand]
        met = as_good and all(r >= PARITY for r in ratios)
        verdict = "meets" if met else ("slower" if as_good else "less accurate: speed not comparable")
        parity.append(
            [
                f"{ours} vs {hand}",
                *(f"{r:.2f}x" for r in ratios),
                f"{metrics[ours]:.4f} vs {metrics[hand]:.4f}",
                verdict,
            ]
        )
    return {"models": rows, "parity": parity, "batches": batches}


def print_table(title: str, rows: Mapping[str, Any], load_before: str, load_after: str) -> None:
    """Both tables, with the load average before and after the timed rounds."""
    headers = ["path", "top-1 agreement"]
    for b in rows["batches"]:
        headers += [f"b{b} ms", f"b{b} vs FP32", f"b{b} spread"]
    print(f"\n{title} (load average {load_before} before timing, {load_after} after)")
    print(table([*headers, "note"], rows["models"]))
    speed = [f"b{b} speed ratio (>1: lpot faster)" for b in rows["batches"]]
    print(f"\nspeed parity (deliverable: >= {PARITY}x at equal or better agreement)")
    print(table(["comparison", *speed, "agreement lpot vs hand-made", "verdict"], rows["parity"]))


def tune_as_user(
    model: Any, framework: str, calib: Any, score: Callable[[Any], float], budget: int, work: Any
) -> tuple[Any, str]:
    """``lpot.tune`` as a user runs it: basic, relative 1 %, ``budget`` trials, the metric as
    eval_func; the result and a one-line note (status, trials, time, INT8 ops, options)."""
    import lpot

    start = time.perf_counter()
    result = lpot.tune(
        model,
        q_dataloader=calib,
        eval_func=score,
        config={
            "model": {"name": "efficientnet_lite0", "framework": framework},
            "quantization": {"approach": "post_training_static_quant", "calibration": {"sampling_size": 32}},
            "tuning": {
                "strategy": {"name": "basic"},
                "accuracy_criterion": {"relative": 0.01},
                "exit_policy": {"timeout": 0, "max_trials": budget},
                "workspace": {"path": str(work)},
            },
        },
        progress=False,
    )
    failed = sum(1 for t in result.trials if t.error)
    note = (
        f"{result.status}, {len(result.trials)} trials ({failed} failed), {time.perf_counter() - start:.0f} s, "
        f"{len(result.recipe.quantized_ops())} of {len(result.recipe.ops)} ops INT8, {dict(result.recipe.options)}"
    )
    return result, note
