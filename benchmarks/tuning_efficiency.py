"""Tuning efficiency: what each strategy spends to reach the accuracy goal, lpot next to INC 2.x.

For each model and strategy: trials until the goal is met, tuning wall time, calibrations and passes
over the calibration data, the final model's real accuracy and its latency ratio FP32/INT8. Every
tool gets the same model, the same ``eval_func`` (the same Python function object), the same
calibration batches and the same goal (1% relative loss), and at most ``MAX_TRIALS`` trials.

Models (all built here, nothing downloaded):
- ``digits``: the demo conv net (lpot_onnxrt.demo) scored by its real top-1 accuracy.
- ``digits-picky``: the same net, but the eval function subtracts 0.5 for each of ``conv2`` and ``fc``
  running in INT8, a stand-in for a model with two quantization-sensitive ops that must fall back.
- ``outlier-mlp``: a chain of 12 Gemm layers where 3 layers get an input channel holding a constant
  10 000 that they ignore in FP32: their calibrated INT8 input range is then [0, 10 000] and every
  useful activation rounds to zero. Genuinely sensitive ops, as outlier features in large models.

INC (Intel Neural Compressor) runs only with ``--inc``: neural-compressor 2.6, the last release that
tunes ONNX Runtime models with op-wise fallback (3.x dropped its ONNX Runtime side; the separate
onnx-neural-compressor 1.0 only walks a list of op-type configs, no op-wise fallback). 2.6 needs
``onnx<1.17`` (it uses ``onnx.mapping``), ``six`` and ``setuptools<81`` (``pkg_resources``); ``nox -s bench_inc``
sets that venv up.

Run: ``python benchmarks/tuning_efficiency.py [--inc] [--models digits,outlier-mlp] [--strategies basic,mse]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import lpot
from lpot.report import table
from lpot_onnxrt.demo import digits_model

MAX_TRIALS = 100
INC_CAP_S = 120.0  # wall-clock cap of one INC run (see run_inc_capped)
TOLERANCE = 0.01  # relative accuracy loss
LPOT_STRATEGIES = ("basic", "sensitivity", "mse", "bayesian", "tpe", "random", "exhaustive")
INC_STRATEGIES = ("auto", "basic", "mse", "bayesian", "random", "exhaustive")  # auto: its default
QUANTIZED_TYPES = ("QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger", "QLinearAdd")


@dataclass
class Task:
    """A model, its data and the one eval function both tools call."""

    name: str
    model: onnx.ModelProto
    calib: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    penalized: tuple[str, ...] = ()
    big_val: tuple[np.ndarray, np.ndarray] | None = None  # a larger eval set for the staged table
    calls: int = field(default=0, init=False)
    log: list[tuple[float, float]] = field(default_factory=list, init=False)  # (time, value) per call

    def start(self) -> None:
        self.calls, self.log, self.t0 = 0, [], time.monotonic()

    def time_to_goal(self) -> float | None:
        """Seconds from the start until an evaluation first met the goal (the first call is FP32)."""
        if not self.log:
            return None
        goal = self.log[0][1] - abs(self.log[0][1]) * TOLERANCE
        return next((t for t, v in self.log[1:] if v >= goal - 1e-9), None)

    def accuracy(self, model: onnx.ModelProto) -> float:
        session = _session(model)
        x, y = self.val
        logits = session.run(None, {session.get_inputs()[0].name: x})[0]
        return float((logits.argmax(1) == y).mean())

    def evaluate(self, model: Any) -> float:
        """Accuracy, minus 0.5 per penalized op that runs in INT8 (both tools pass a ModelProto)."""
        self.calls += 1
        model = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
        value = self.accuracy(model) - 0.5 * sum(is_int8(model, op) for op in self.penalized)
        self.log.append((time.monotonic() - self.t0, value))
        return value


class CalibLoader:
    """Batches of ten samples as ``(inputs, labels)``; counts passes over the data (INC reads it
    only to calibrate; lpot also measures latency on it)."""

    batch_size = 10

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y, self.passes = x, y, 0

    def __iter__(self):
        self.passes += 1
        for i in range(0, len(self.x), self.batch_size):
            yield self.x[i : i + self.batch_size], self.y[i : i + self.batch_size]


def is_int8(model: onnx.ModelProto, op: str) -> bool:
    """Whether op ``op`` of the FP32 graph computes in INT8 here, in QOperator or QDQ form.

    INC renames what it quantizes (``conv2_quant``) and splits Gemm (``fc_MatMul``, ``fc_Add``), so
    every node named ``op`` or ``op_*`` counts.
    """
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.name != op and not node.name.startswith(op + "_"):
            continue
        if node.op_type in QUANTIZED_TYPES:
            return True
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        src = producers.get(node.input[0]) if node.input else None
        if src is not None and src.op_type == "DequantizeLinear":
            return True
    return False


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def latency_ratio(fp32: onnx.ModelProto, tuned: onnx.ModelProto, x: np.ndarray, rounds: int = 7) -> float:
    """FP32 / tuned median latency at the given batch, the two sessions interleaved round by round."""
    sessions = [_session(fp32), _session(tuned)]
    feeds = [{s.get_inputs()[0].name: x} for s in sessions]
    times: list[list[float]] = [[], []]
    for s, f in zip(sessions, feeds):
        for _ in range(5):
            s.run(None, f)
    for _ in range(rounds):
        for i, (s, f) in enumerate(zip(sessions, feeds)):
            t0 = time.perf_counter()
            for _ in range(20):
                s.run(None, f)
            times[i].append(time.perf_counter() - t0)
    return statistics.median(times[0]) / statistics.median(times[1])


# ---------------------------------------------------------------------------------------------- models
def digits_task(picky: bool) -> Task:
    model, (x_train, y_train, x_val, y_val) = digits_model(seed=0)
    return Task(
        "digits-picky" if picky else "digits",
        model,
        (x_train[:100], y_train[:100]),
        (x_val, y_val),
        penalized=("conv2", "fc") if picky else (),
    )


def outlier_mlp_task(layers: int = 12, bad: tuple[int, ...] = (4, 7, 10), width: int = 16) -> Task:
    """Gemm+Relu chain; the layer before each bad one writes 10 000 into a spare channel."""
    classes = 4
    centers = np.random.default_rng(99).normal(0, 3, size=(classes, width))

    def data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        y = rng.integers(0, classes, size=n)
        return (centers[y] + rng.normal(0, 0.7, size=(n, width)) + 10.0).astype(np.float32), y.astype(
            np.int64
        )

    rng = np.random.default_rng(7)
    x, y = data(0, 600)
    nodes, inits, h, last = [], [], x, "input"
    for i in range(1, layers):
        w = np.eye(h.shape[1], width + 1, dtype=np.float32)
        w[:width, :width] += rng.normal(0, 0.05, size=(width, width)).astype(np.float32)
        w[width:, :] = 0.0
        w[:, width] = 0.0
        b = np.zeros(width + 1, np.float32)
        if i + 1 in bad:
            b[width] = 10_000.0
        inits += [
            numpy_helper.from_array(w.T.copy(), f"fc{i}.weight"),
            numpy_helper.from_array(b, f"fc{i}.bias"),
        ]
        nodes += [
            helper.make_node(
                "Gemm", [last, f"fc{i}.weight", f"fc{i}.bias"], [f"fc{i}"], name=f"fc{i}", transB=1
            ),
            helper.make_node("Relu", [f"fc{i}"], [f"relu{i}"], name=f"relu{i}"),
        ]
        last, h = f"relu{i}", np.maximum(h @ w + b, 0)
    target = np.eye(classes, dtype=np.float32)[y]
    readout = np.linalg.lstsq(np.c_[h[:, :width], np.ones(len(h))], target, rcond=None)[0].astype(np.float32)
    w_out = np.zeros((width + 1, classes), np.float32)
    w_out[:width] = readout[:-1]
    inits += [
        numpy_helper.from_array(w_out.T.copy(), f"fc{layers}.weight"),
        numpy_helper.from_array(readout[-1], f"fc{layers}.bias"),
    ]
    nodes.append(
        helper.make_node(
            "Gemm", [last, f"fc{layers}.weight", f"fc{layers}.bias"], ["logits"], name=f"fc{layers}", transB=1
        )
    )
    graph = helper.make_graph(
        nodes,
        "outlier_mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="lpot-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    calib = data(1, 100)
    return Task("outlier-mlp", model, calib, data(2, 1000), big_val=data(3, 20_000))


TASKS: dict[str, Callable[[], Task]] = {
    "digits": lambda: digits_task(picky=False),
    "digits-picky": lambda: digits_task(picky=True),
    "outlier-mlp": outlier_mlp_task,
}


# ---------------------------------------------------------------------------------------------- runs
@dataclass
class Row:
    tool: str
    strategy: str
    met: bool
    trials: int
    first_met: int | None
    wall_s: float
    goal_s: float | None
    calibrations: int
    accuracy: float
    latency_ratio: float | None
    fp32_ops: str = ""


def run_lpot(task: Task, strategy: str, work: Path) -> Row:
    loader = CalibLoader(*task.calib)
    task.start()
    t0 = time.monotonic()
    result = lpot.tune(
        task.model,
        q_dataloader=loader,
        eval_func=task.evaluate,
        config={
            "tuning": {
                # exhaustive refuses spaces this large unless told to enumerate until max_trials
                "strategy": {"name": strategy, **({"limit": 0} if strategy == "exhaustive" else {})},
                "accuracy_criterion": {"relative": TOLERANCE},
                "exit_policy": {"timeout": 0, "max_trials": MAX_TRIALS},
                "random_seed": 1978,
                "workspace": {"path": str(work / f"lpot-{task.name}-{strategy}")},
            }
        },
        progress=False,
    )
    wall = time.monotonic() - t0
    first = next((t.index for t in result.trials if t.met), None)
    tuned = result.model if result.met else None
    return Row(
        "lpot",
        strategy,
        result.met,
        len(result.trials),
        first,
        wall,
        task.time_to_goal(),
        result.calibration_passes,
        task.accuracy(result.model),
        latency_ratio(task.model, tuned, task.val[0][:16]) if tuned is not None else None,
        ", ".join(sorted(op.name for op in result.recipe.fp32_ops() if op.name.startswith(("conv", "fc")))),
    )


def run_inc_capped(task: Task, strategy: str, cap_s: float) -> Row:
    """:func:`run_inc` in a child process stopped after ``cap_s`` seconds: some INC strategies
    (random, on a 12-op model) enumerate their whole space before the first trial and never start."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=lambda: queue.put(run_inc(task, strategy)), daemon=True)
    t0 = time.monotonic()
    child.start()
    child.join(cap_s)
    if child.is_alive():
        child.terminate()
        child.join()
        return Row(
            "INC 2.6",
            f"{strategy} (stopped)",
            False,
            0,
            None,
            time.monotonic() - t0,
            None,
            0,
            float("nan"),
            None,
        )
    return queue.get(timeout=10)


def run_inc(task: Task, strategy: str) -> Row:
    from neural_compressor import quantization
    from neural_compressor.config import AccuracyCriterion, PostTrainingQuantConfig, TuningCriterion

    loader = CalibLoader(*task.calib)
    task.start()
    conf = PostTrainingQuantConfig(
        approach="static",
        # quant_level "auto" (the default) ignores the strategy name; 1 runs the one named
        quant_level="auto" if strategy == "auto" else 1,
        tuning_criterion=TuningCriterion(
            strategy="basic" if strategy == "auto" else strategy, timeout=0, max_trials=MAX_TRIALS
        ),
        accuracy_criterion=AccuracyCriterion(criterion="relative", tolerable_loss=TOLERANCE),
    )
    t0 = time.monotonic()
    q_model = quantization.fit(task.model, conf, calib_dataloader=loader, eval_func=task.evaluate)
    wall = time.monotonic() - t0
    trials = max(task.calls - 1, 0)  # the first call is INC's FP32 baseline
    model = q_model.model if q_model is not None else None
    fp32_ops = ""
    if model is not None:
        names = sorted({n.name.split("_")[0] for n in model.graph.node if n.name.startswith(("conv", "fc"))})
        fp32_ops = ", ".join(n for n in names if not is_int8(model, n))
    return Row(
        "INC 2.6",
        strategy,
        model is not None,
        trials,
        trials if model is not None else None,
        wall,
        task.time_to_goal(),
        loader.passes,
        task.accuracy(model) if model is not None else float("nan"),
        latency_ratio(task.model, model, task.val[0][:16]) if model is not None else None,
        fp32_ops,
    )


def run_lpot_staged(task: Task, strategy: str, staged: bool, work: Path) -> list[Any]:
    """Usage (a), lpot's own metric over an eval dataloader: staged evaluation on or off."""
    import json

    x, y = task.big_val or task.val
    path = work / f"lpot-{task.name}-{strategy}-staged-{staged}"
    t0 = time.monotonic()
    result = lpot.tune(
        task.model,
        q_dataloader=CalibLoader(*task.calib),
        eval_dataloader=lpot.ArrayLoader(x, y, batch_size=50),
        config={
            "evaluation": {"accuracy": {"metric": {"topk": 1}}},
            "tuning": {
                "strategy": {"name": strategy},
                "accuracy_criterion": {"relative": TOLERANCE},
                "staged_evaluation": staged,
                "exit_policy": {"timeout": 0, "max_trials": MAX_TRIALS},
                "workspace": {"path": str(path)},
            },
        },
        progress=False,
    )
    wall = time.monotonic() - t0
    events = [json.loads(line) for line in (path / "run.log.jsonl").read_text().splitlines()]
    on_slice = sum(1 for e in events if e.get("event") == "staged evaluation" and e.get("decided_on_slice"))
    evaluate_s = sum(t.evaluate_s for t in result.trials)
    return [
        task.name,
        strategy,
        "on" if staged else "off",
        "yes" if result.met else "no",
        len(result.trials),
        on_slice,
        f"{evaluate_s:.2f}",
        f"{wall:.2f}",
        f"{result.accuracy:.4f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inc", action="store_true", help="also tune with Intel Neural Compressor 2.x")
    parser.add_argument("--models", default=",".join(TASKS))
    parser.add_argument("--strategies", default=",".join(LPOT_STRATEGIES))
    parser.add_argument("--inc-strategies", default=",".join(INC_STRATEGIES))
    args = parser.parse_args()
    if args.inc:
        import neural_compressor

        logging.getLogger("neural_compressor").setLevel(logging.WARNING)
        inc_version = neural_compressor.__version__
    work = Path(tempfile.mkdtemp(prefix="lpot-efficiency-"))
    os.chdir(work)  # INC writes its nc_workspace/ into the working directory
    rows = []
    for name in args.models.split(","):
        task = TASKS[name]()
        baseline = task.accuracy(task.model)
        print(
            f"== {name}: FP32 accuracy {baseline:.4f}, goal >= {baseline * (1 - TOLERANCE):.4f}", flush=True
        )
        results = [run_lpot(task, s, work) for s in args.strategies.split(",")]
        if args.inc:
            results += [run_inc_capped(task, s, INC_CAP_S) for s in args.inc_strategies.split(",")]
        for r in results:
            print(f"   {r.tool} {r.strategy}: {r.trials} trials, {r.wall_s:.2f}s, met={r.met}", flush=True)
            rows.append(
                [
                    name,
                    r.tool,
                    r.strategy,
                    "yes" if r.met else "no",
                    r.first_met if r.first_met is not None else "-",
                    r.trials,
                    f"{r.wall_s:.2f}",
                    "-" if r.goal_s is None else f"{r.goal_s:.2f}",
                    r.calibrations,
                    f"{r.accuracy:.4f}",
                    "-" if r.latency_ratio is None else f"{r.latency_ratio:.2f}",
                    r.fp32_ops or "-",
                ]
            )
    print(
        f"\nONNX Runtime {ort.__version__}, onnx {onnx.__version__}, lpot {lpot.__version__}"
        + (f", neural-compressor {inc_version}" if args.inc else "")
        + f"; goal: {TOLERANCE:.0%} relative loss, at most {MAX_TRIALS} trials"
    )
    headers = [
        "model",
        "tool",
        "strategy",
        "met",
        "met at trial",
        "trials",
        "wall s",
        "s to goal",
        "calibrations",
        "accuracy",
        "latency FP32/INT8",
        "FP32 ops",
    ]
    print(table(headers, rows))
    if "outlier-mlp" in args.models.split(","):
        task = TASKS["outlier-mlp"]()
        staged_rows = [
            run_lpot_staged(task, strategy, staged, work)
            for strategy in ("basic", "sensitivity")
            for staged in (False, True)
        ]
        print("\nlpot usage (a): topk over an eval dataloader (20 000 samples), staged evaluation off / on")
        print(
            table(
                [
                    "model",
                    "strategy",
                    "staged",
                    "met",
                    "trials",
                    "decided on slice",
                    "evaluate s",
                    "wall s",
                    "accuracy",
                ],
                staged_rows,
            )
        )


if __name__ == "__main__":
    main()
