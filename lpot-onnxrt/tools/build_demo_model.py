"""Build the demo conv net once and write it as lpot-onnxrt's package data.

    python lpot-onnxrt/tools/build_demo_model.py [--seed 0]

Writes ``src/lpot_onnxrt/demo_data/digits_cnn.onnx`` and ``digits_cnn.json`` (seed, sha256, size,
the FP32 accuracy on the validation digits, the versions that built it). ``lpot demo`` loads this
copy instead of spending about two minutes building the model on every run; it rebuilds when the
file is missing or does not match its record, or when asked (``lpot demo --rebuild``). Run it
again after changing :mod:`lpot_onnxrt.demo_build` and commit both files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from lpot_onnxrt.demo import SHIPPED, build_digits_model
from lpot_onnxrt.sessions import make_session

OUT = Path(__file__).resolve().parents[1] / "src" / "lpot_onnxrt" / "demo_data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    t0 = time.monotonic()
    model, (_, _, x_val, y_val) = build_digits_model(args.seed)
    data = model.SerializeToString()
    session = make_session(data)
    accuracy = float((session.run(None, {"image": x_val})[0].argmax(1) == y_val).mean())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{SHIPPED}.onnx").write_bytes(data)
    info = {
        "seed": args.seed,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "fp32_accuracy": accuracy,
        "validation_images": int(len(y_val)),
        "built_with": {
            d: metadata.version(d) for d in ("numpy", "onnx", "onnxruntime", "scikit-learn", "scipy")
        },
    }
    (args.out / f"{SHIPPED}.json").write_text(json.dumps(info, indent=2) + "\n")
    print(
        f"wrote {args.out / SHIPPED}.onnx ({len(data):,} bytes, FP32 accuracy {accuracy:.4f}) "
        f"in {time.monotonic() - t0:.0f}s; numpy {np.__version__}"
    )


if __name__ == "__main__":
    main()
