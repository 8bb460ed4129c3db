"""Parallel tuning: wall time of one evaluation-dominated run, serial vs local(2) vs ray(2).

The model is the numpy toy MLP of the core tests (tests/core/plugin_pkg, imported from the source
tree when not installed), tuned with the exhaustive strategy for exactly ``--trials`` trials (the
goal is out of reach in that many, so every executor runs the same trials). Quantizing it takes
about a millisecond, so each trial's cost is the evaluation, which is simulated, and said so:

- ``cpu``: the real accuracy plus ``--eval-s`` seconds of single-threaded numpy work (a stand-in
  for a forward pass over a larger eval split): bound by this machine's cores;
- ``sleep``: the real accuracy plus ``--eval-s`` seconds of sleep (a stand-in for an evaluation
  that waits on something else: an accelerator, a remote service, or a bigger machine's cores);
  this is what the same design gives when there are as many cores as workers; the extra
  ``local(4)`` row (4 workers on 2 cores) shows it going past this machine's cores.

Ray's local cluster is started once before timing (as a user would join a running cluster); its
start-up is reported on its own line. The local executor's worker start-up (spawn + import +
receiving the model) is inside its wall time. Usage: ``python benchmarks/parallel_tuning.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core per evaluation in every mode
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "core"))
try:
    import lpot_toy  # noqa: F401
except ImportError:  # not installed: use the source tree (the backend then travels pickled, not by name)
    sys.path.insert(0, str(ROOT / "tests" / "core" / "plugin_pkg" / "src"))

import numpy as np  # noqa: E402

import lpot  # noqa: E402
import toy_job  # noqa: E402


class SimulatedEval:
    """Real accuracy on the toy eval split plus ``seconds`` of CPU work or sleep."""

    def __init__(self, kind: str, seconds: float) -> None:
        self.kind, self.seconds = kind, seconds
        self.inner = toy_job.PenalizingEval(("fc2", "fc3"))

    def __call__(self, model: Any) -> float:
        end = time.perf_counter() + self.seconds
        if self.kind == "sleep":
            time.sleep(self.seconds)
        else:
            a = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
            while time.perf_counter() < end:
                a = np.tanh(a @ a.T * 0.01)
        return self.inner(model)


def run(executor: Any, kind: str, trials: int, eval_s: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as workspace:
        cfg = toy_job.config(
            Path(workspace),
            strategy={"name": "exhaustive", "limit": 0},
            exit_policy={"timeout": 0, "max_trials": trials},
            objective="model_size",  # cheap and deterministic: the evaluation is what is timed
            executor=executor,
        )
        calib, _ = toy_job.loaders()
        t0 = time.perf_counter()
        result = lpot.tune(
            toy_job.make_model(),
            q_dataloader=calib,
            eval_func=SimulatedEval(kind, eval_s),
            config=cfg,
            progress=False,
        )
        return time.perf_counter() - t0, len(result.trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--eval-s", type=float, default=0.4)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    executors: list[tuple[str, Any]] = [
        ("serial", "serial"),
        ("local(2)", {"name": "local", "workers": 2}),
    ]
    ray_start = None
    try:
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t0
        executors.append(("ray(2)", {"name": "ray", "workers": 2}))
    except ImportError:
        print("ray is not installed (pip install 'lpot-core[ray]'): no ray row")
    print(
        f"{args.trials} trials per run, each evaluation = real accuracy + {args.eval_s:g}s simulated, "
        f"{cores} cores, FP32 baseline evaluated in the driver (1 evaluation, in every run)\n"
    )
    print("| evaluation | executor | wall s | trials | trials/min | speed-up vs serial |")
    print("|---|---|---|---|---|---|")
    for kind in ("cpu", "sleep"):
        serial_s = None
        # (no "local(4) on 2 cores" row: workers are capped by the usable cores, issue 15)
        for name, executor in executors:
            wall, n = run(executor, kind, args.trials, args.eval_s)
            serial_s = serial_s or wall
            print(f"| {kind} | {name} | {wall:.2f} | {n} | {n / wall * 60:.0f} | {serial_s / wall:.2f}x |")
    if ray_start is not None:
        print(f"\nray.init of a local 2-CPU cluster: {ray_start:.1f}s (once; not in the rows above)")
        ray.shutdown()
    ideal = (args.trials + 1) * args.eval_s
    print(
        f"\nLower bound for serial: {ideal:.1f}s of evaluation ((trials + baseline) x {args.eval_s:g}s). "
        "With 2 workers the trials take half of it at best; the baseline stays serial (it decides the goal)."
    )


if __name__ == "__main__":
    main()
