"""A TensorFlow tuning run in its own process, so a test can SIGKILL it mid-run and resume it.

conv2 and fc1 each cost 0.3 accuracy while they run INT8, so basic must walk the op-wise
fallback stage one trial at a time; each evaluation sleeps a little and appends the INT8 layers it
saw to ``--calls``, which tells the test what the resumed run re-evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import lpot  # noqa: E402
from models import accuracy, digits_arrays, digits_cnn, train  # noqa: E402
from probes import int8_ops  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workspace")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--calls", required=True)
    args = parser.parse_args()
    x, y, xv, yv = digits_arrays()
    model = train(digits_cnn(), x, y, epochs=2)

    def eval_func(m) -> float:
        int8 = int8_ops(m)
        with open(args.calls, "a") as f:
            f.write(json.dumps(sorted(int8)) + "\n")
        time.sleep(args.sleep)
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
            {
                "status": result.status,
                "trials": len(result.trials),
                "int8": sorted(int8_ops(result.model)),
                "calibration_passes": result.calibration_passes,
                "new_calibration_passes": result.new_calibration_passes,
            }
        )
    )


if __name__ == "__main__":
    main()
