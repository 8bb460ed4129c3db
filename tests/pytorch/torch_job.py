"""A PyTorch tuning run in its own process, so a test can SIGKILL it mid-run and resume it.

conv2 and fc1 each cost 0.3 accuracy while they run INT8, so basic must walk the op-wise
fallback stage one trial at a time; each evaluation sleeps a little and appends the recipe it saw to
``--calls``, which tells the test what the resumed run re-evaluated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import lpot  # noqa: E402
from models import DigitsNet, accuracy, digits_arrays, train  # noqa: E402
from probes import int8_ops  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--calls", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y, xv, yv = digits_arrays()
    model = train(DigitsNet(), x, y, epochs=2)

    def eval_func(m: torch.nn.Module) -> float:
        int8 = int8_ops(m)
        with open(args.calls, "a") as f:
            f.write(json.dumps(sorted(int8)) + "\n")
        time.sleep(args.sleep)
        # Two sensitive ops: only a recipe with conv2 and fc1 out of INT8 meets the goal.
        return accuracy(m, xv, yv) - 0.3 * len(int8 & {"conv2", "fc1"})

    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
        eval_func=eval_func,
        config={"tuning": {"workspace": {"path": args.workspace}}},
        resume=args.resume,
        progress=False,
    )
    print(
        json.dumps(
            {"status": result.status, "trials": len(result.trials), "int8": sorted(int8_ops(result.model))}
        )
    )


if __name__ == "__main__":
    main()
