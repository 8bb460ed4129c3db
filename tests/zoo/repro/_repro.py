"""Shared by the ``repro_*.py`` scripts: run ``lpot.tune`` on a zoo model and print what happened.

Each script reproduces one row of issue 17 through lpot's public API and prints the exact error
(with the innermost lpot frame) or the wrong result, so REPRO.md can be checked by running it.
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
logging.basicConfig(level=logging.WARNING, format="  log %(levelname)s %(name)s: %(message)s")


def config(
    framework: str,
    *,
    approach: str = "post_training_static_quant",
    strategy: str = "basic",
    max_trials: int = 10,
    timeout: int = 0,
    relative: float = 0.01,
    **sections: Any,
) -> dict[str, Any]:
    """An LPOT 1.x-layout config dict with a fresh workspace."""
    cfg: dict[str, Any] = {
        "model": {"name": "zoo", "framework": framework},
        "quantization": {"approach": approach},
        "tuning": {
            "strategy": {"name": strategy},
            "accuracy_criterion": {"relative": relative},
            "exit_policy": {"timeout": timeout, "max_trials": max_trials},
            "random_seed": 9527,
            "workspace": {"path": tempfile.mkdtemp(prefix="lpot-repro-")},
        },
    }
    for key, value in sections.items():
        cfg.setdefault(key, {}).update(value)
    return cfg


def where(exc: BaseException) -> str:
    """The innermost frame in lpot's own packages, then the innermost frame of all."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/lpot" in f.filename and "/repro/" not in f.filename]
    pick = [ours[-1]] if ours else []
    if frames and (not ours or frames[-1] is not ours[-1]):
        pick.append(frames[-1])
    return " <- ".join(f"{_short(f.filename)}:{f.lineno} {f.name}" for f in reversed(pick))


def _short(path: str) -> str:
    for marker in ("site-packages/", "src/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def run(title: str, model: Any, **kwargs: Any) -> Any:
    """``lpot.tune(model, **kwargs)``; prints the result, or the exception and where it was raised."""
    import lpot

    print(f"\n=== {title}", flush=True)
    start = time.perf_counter()
    try:
        result = lpot.tune(model, progress=False, **kwargs)
    except Exception as exc:  # the point of a repro: show what escaped tune()
        print(f"RAISED after {time.perf_counter() - start:.1f} s: {type(exc).__name__}: {_first_line(exc)}")
        print(f"  at {where(exc)}")
        return None
    describe(result, time.perf_counter() - start)
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else ""


def describe(result: Any, elapsed: float | None = None) -> None:
    """Status, accuracy, trials (ok / failed and why), how many ops the returned recipe quantized."""
    failed = [t for t in result.trials if t.status != "ok"]
    quantized = result.recipe.quantized_ops()
    print(
        f"status={result.status} stop={result.stop_reason} accuracy FP32 {result.baseline_accuracy:.4f}"
        f" -> tuned {result.accuracy:.4f} (goal {result.goal:.4f})"
    )
    print(
        f"trials={len(result.trials)} failed={len(failed)} best_trial="
        f"{result.best_trial.index if result.best_trial else None} INT8 ops in the returned recipe="
        f"{len(quantized)} of {len(result.recipe.ops)}; objective ratio={result.objective_ratio}"
        + (f"; {elapsed:.1f} s" if elapsed is not None else "")
    )
    reasons = collections.Counter((t.error or "").strip().splitlines()[0][:300] for t in failed)
    for reason, count in reasons.most_common(4):
        print(f"  {count} failed trial(s): {reason}")
    for warning in result.warnings:
        print(f"  warning: {warning[:300]}")


def trial_table(result: Any) -> None:
    """One line per trial: label, accuracy, objective, INT8 ops, status."""
    for t in result.trials:
        acc = f"{t.accuracy:.4f}" if t.accuracy == t.accuracy else "nan"
        obj = f"{t.objective:.2f}" if t.objective else "-"
        print(
            f"  #{t.index:>2} {t.label[:60]:<60} acc={acc} obj={obj} int8={len(t.recipe.quantized_ops())} {t.status}"
        )


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    sys.exit(2)


def tune_cli(conf: str, model: str, data: str, tail: int = 14) -> None:
    """``lpot tune conf --model model --data data --quiet`` in a subprocess: its last lines and exit code."""
    cmd = [sys.executable, "-m", "lpot.cli", "tune", conf, "--model", model, "--data", data, "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    print("\n".join(lines[-tail:]))
    print(f"exit code {done.returncode}")
