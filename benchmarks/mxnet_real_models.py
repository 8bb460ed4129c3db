"""Speed parity on the zoo, MXNet: lpot's tuned EfficientNet-Lite0 vs the hand-made INT8 paths.

Issue 17, deliverable 7: lpot's tuned model should run at >= 0.95x the speed of the best hand-made
INT8 path of the framework at equal or better accuracy. Model: the zoo's Gluon rebuild of
EfficientNet-Lite0 with its real ImageNet weights (``lpot_zoo.gluon_efficientnet``); data: crops of
real photographs, calibration on one set of crops and the metric (top-1 agreement with FP32) on
another. Rows: FP32 Gluon (hybridized, oneDNN), MXNet's ``quantize_net`` with naive and entropy
calibration (oneDNN INT8, its defaults), and ``lpot.tune`` (basic, relative 1 % goal, a small
trial budget). Every model runs the evaluation first, then all are timed in interleaved rounds at
batch 1 and 16 (median of the rounds' medians; spread = slowest / fastest round).

Run: ``nox -s bench_mxnet -- --quick`` (or ``python benchmarks/mxnet_real_models.py`` in the venv).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "2")  # read when MXNet loads: the same 2 threads for all
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _zoo_timing import interleaved, load_average, parity_rows, print_table, tune_as_user  # noqa: E402

THREADS = 2


def _gluon_predict(net: Any) -> Callable[[np.ndarray], np.ndarray]:
    import mxnet as mx

    return lambda x: net(mx.nd.array(x)).asnumpy()


def _run(net: Any) -> Callable[[np.ndarray], None]:
    """One timed call: MXNet is asynchronous, so wait for the output."""
    import mxnet as mx

    def call(x: np.ndarray) -> None:
        net(mx.nd.array(x)).wait_to_read()

    return call


def hand_made(net: Any, calib: np.ndarray, mode: str) -> Any:
    """MXNet's own post-training INT8 flow: ``quantize_net`` (oneDNN), ``auto`` dtype, ``mode`` calibration."""
    import mxnet as mx
    from mxnet.contrib.quantization import quantize_net

    data = mx.gluon.data.DataLoader(
        mx.gluon.data.SimpleDataset([(mx.nd.array(x),) for x in calib]), batch_size=16
    )
    out = quantize_net(
        net,
        quantized_dtype="auto",
        calib_mode=mode,
        calib_data=data,
        num_calib_examples=len(calib),
        ctx=mx.cpu(),
    )
    out.hybridize(static_alloc=True, static_shape=True)
    return out


def graph_shape(block: Any) -> list[tuple[str, str, tuple[Any, ...]]]:
    """(op, name, input edges) of every node, thresholds and version counters aside: two INT8 nets
    with equal shapes run the same oneDNN kernels, so their speed can differ only by noise."""
    import json

    def key(node: dict[str, Any]) -> tuple[str, str, tuple[Any, ...]]:
        return node["op"], node["name"], tuple(tuple(e[:2]) for e in node.get("inputs", []))

    return [key(n) for n in json.loads(block._cached_graph[1].tojson())["nodes"]]


def tuned(net: Any, calib: Any, score: Callable[[Any], float], budget: int, work: Path) -> tuple[Any, str]:
    result, note = tune_as_user(net, "mxnet", calib, score, budget, work)
    result.model.hybridize(static_alloc=True, static_shape=True)
    return result.model, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer crops and rounds (a smoke run)")
    parser.add_argument("--max-trials", type=int, default=8)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from lpot_zoo.agreement import top1, top1_agreement
    from lpot_zoo.batches import batched
    from lpot_zoo.gluon_efficientnet import build_gluon_efficientnet_lite0
    from lpot_zoo.photos import photo_array

    count, rounds = (32, 5) if args.quick else (64, 9)
    calib_x, eval_x = photo_array(32, seed=0), photo_array(count, seed=1)
    net = build_gluon_efficientnet_lite0()
    net.hybridize(static_alloc=True, static_shape=True)
    labels = top1(_gluon_predict(net)(eval_x))

    def score(model: Any) -> float:
        predict = _gluon_predict(model)
        return top1_agreement(
            np.concatenate([predict(eval_x[i : i + 16]) for i in range(0, len(eval_x), 16)]), labels
        )

    models: dict[str, Any] = {"FP32 Gluon (oneDNN)": net}
    notes = {"FP32 Gluon (oneDNN)": f"hybridized, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"}
    for mode in ("naive", "entropy"):
        start = time.perf_counter()
        models[f"quantize_net {mode}"] = hand_made(net, calib_x, mode)
        notes[f"quantize_net {mode}"] = f"oneDNN INT8, auto dtype, {time.perf_counter() - start:.0f} s"
    with tempfile.TemporaryDirectory(prefix="lpot-bench-mx-") as tmp:
        models["lpot basic"], notes["lpot basic"] = tuned(
            net, batched(calib_x, None, 16), score, args.max_trials, Path(tmp)
        )
    metrics = {name: score(m) for name, m in models.items()}  # every model has run the evaluation
    load_before = load_average()
    timings = {b: interleaved({k: _run(m) for k, m in models.items()}, eval_x[:b], rounds) for b in (1, 16)}
    for hand in ("quantize_net naive", "quantize_net entropy"):
        same = graph_shape(models["lpot basic"]) == graph_shape(models[hand])
        notes[hand] += f"; {'same' if same else 'not the same'} graph as lpot's (ops, names, edges)"
    rows = parity_rows(
        models,
        metrics,
        timings,
        notes,
        "FP32 Gluon (oneDNN)",
        "lpot basic",
        ("quantize_net naive", "quantize_net entropy"),
    )
    print_table("EfficientNet-Lite0 (Gluon rebuild), MXNet 1.9.1 oneDNN", rows, load_before, load_average())


if __name__ == "__main__":
    main()
