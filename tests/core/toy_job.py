"""A deterministic toy tuning job shared by the core tests and run as a script for kill/resume.

Usage as a script: ``python toy_job.py WORKSPACE [--resume] [--sleep S] [--calls FILE]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from lpot.data import ArrayLoader
from lpot_toy.model import MLP, QuantizedMLP

LAYERS = ("fc1", "fc2", "fc3", "fc4")


def make_data(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Four well-separated gaussian blobs in 16 dimensions."""
    centers = np.random.default_rng(1234).normal(0, 3, size=(4, 16))  # the same task for every seed
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, size=n)
    x = centers[y] + rng.normal(0, 0.5, size=(n, 16))
    return x.astype(np.float32), y.astype(np.int64)


def make_model(seed: int = 0) -> MLP:
    """Random-feature layers and a least-squares read-out: accurate on the blobs, built instantly."""
    rng = np.random.default_rng(seed)
    x, y = make_data(seed)
    layers, h = [], x
    for name, width in zip(LAYERS[:-1], (32, 32, 32)):
        w = rng.normal(0, 1 / np.sqrt(h.shape[1]), size=(h.shape[1], width)).astype(np.float32)
        b = np.zeros(width, np.float32)
        layers.append((name, w, b))
        h = np.maximum(h @ w + b, 0)
    target = np.eye(4, dtype=np.float32)[y]
    w_out = np.linalg.lstsq(np.c_[h, np.ones(len(h))], target, rcond=None)[0].astype(np.float32)
    layers.append((LAYERS[-1], w_out[:-1], w_out[-1]))
    return MLP(layers)


def loaders(batch_size: int = 50) -> tuple[ArrayLoader, ArrayLoader]:
    x, y = make_data(1)
    return ArrayLoader(x[:200], y[:200], batch_size), ArrayLoader(x[200:], y[200:], batch_size)


class PenalizingEval:
    """Real accuracy, minus a penalty for each named layer that runs in INT8.

    This stands for a model with a few quantization-sensitive ops: the strategy must find that
    those, and only those, need to stay FP32. ``calls`` counts evaluations.
    """

    def __init__(
        self,
        sensitive: tuple[str, ...] = (),
        penalty: float = 0.2,
        sleep: float = 0.0,
        calls_file: Path | None = None,
    ) -> None:
        self.sensitive = sensitive
        self.penalty = penalty
        self.sleep = sleep
        self.calls = 0
        self.calls_file = calls_file
        self.data = loaders()[1]

    def __call__(self, model: Any) -> float:
        self.calls += 1
        if self.calls_file is not None:
            with open(self.calls_file, "a") as fh:
                fh.write(json.dumps(getattr(model, "int8_layers", None)) + "\n")
        time.sleep(self.sleep)
        correct = total = 0
        for x, y in self.data:
            correct += int((model(x).argmax(1) == y).sum())
            total += len(y)
        accuracy = correct / total
        if isinstance(model, QuantizedMLP):
            accuracy -= self.penalty * sum(name in model.int8_layers for name in self.sensitive)
        return accuracy


def config(workspace: Path, **tuning: Any) -> dict[str, Any]:
    return {
        "model": {"name": "toy_mlp", "framework": None},
        "quantization": {"calibration": {"sampling_size": 100}},
        "tuning": {
            "accuracy_criterion": {"relative": 0.01},
            "exit_policy": {"timeout": 0, "max_trials": 50},
            "workspace": {"path": str(workspace)},
            **tuning,
        },
    }


def main() -> None:
    from lpot import tune

    parser = argparse.ArgumentParser()
    parser.add_argument("workspace")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--calls")
    args = parser.parse_args()
    calib, _ = loaders()
    evaluate = PenalizingEval(
        ("fc2", "fc3"), sleep=args.sleep, calls_file=Path(args.calls) if args.calls else None
    )
    result = tune(
        make_model(),
        q_dataloader=calib,
        eval_func=evaluate,
        config=config(Path(args.workspace)),
        resume=args.resume,
        progress=False,
    )
    print(json.dumps({"status": result.status, "trials": len(result.trials), "calls": evaluate.calls}))


if __name__ == "__main__":
    main()
