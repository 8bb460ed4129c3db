"""One tuning run of the known-answer model, as a process the tests can kill: ``tune_job.py
WORKSPACE STRATEGY EXECUTOR [--resume] --out FILE``. It writes what the run ended with (trials,
best, status, the printed summary) as JSON to ``--out``."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

# Budgets that end every strategy within seconds on the 6-layer known-answer model.
MAX_TRIALS = {"bayesian": 12, "tpe": 12, "random": 16, "exhaustive": 20}


def config(workspace: str, strategy: str, executor: str) -> dict:
    return {
        "model": {"name": "known_answer"},
        "quantization": {
            "calibration": {"sampling_size": 100},
            "model_wise": {
                "activation": {"dtype": ["uint8"], "scheme": ["asym"], "algorithm": ["minmax"]},
                "weight": {"granularity": ["per_channel"]},
            },
        },
        "tuning": {
            "strategy": {"name": strategy},
            "accuracy_criterion": {"relative": 0.01},
            "exit_policy": {"timeout": 0, "max_trials": MAX_TRIALS.get(strategy, 40)},
            "random_seed": 7,
            "workspace": {"path": workspace},
            "executor": {"name": executor, "workers": 2} if executor != "serial" else {"name": "serial"},
        },
    }


def summary_text(result, workspace: str) -> str:
    """The printed summary, without what legitimately differs between runs (wall time, folder)."""
    return re.sub(r"\d+(\.\d+)?s\b", "<s>", str(result).replace(workspace, "<workspace>"))


def main() -> None:
    import lpot
    from lpot_toy.known_answer import Accuracy, Fp32Layers, known_answer_model, loaders

    parser = argparse.ArgumentParser()
    parser.add_argument("workspace")
    parser.add_argument("strategy")
    parser.add_argument("executor")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = lpot.tune(
        known_answer_model(6, ("fc3", "fc5")),
        q_dataloader=loaders()[0],
        eval_func=Accuracy(),
        config=config(args.workspace, args.strategy, args.executor),
        objective=Fp32Layers(),
        resume=args.resume,
        progress=False,
    )
    trials = [
        [t.index, t.fingerprint, t.label, None if t.accuracy != t.accuracy else t.accuracy, t.met, t.status]
        for t in result.trials
    ]
    out = {
        "trials": trials,
        "best": result.best_trial.index if result.best_trial else None,
        "status": str(result.status),
        "reason": result.stop_reason,
        "recipe": result.recipe.fingerprint(),
        "summary": summary_text(result, args.workspace),
    }
    Path(args.out).write_text(json.dumps(out))


if __name__ == "__main__":
    main()
