"""FP32 vs lpot-tuned INT8 vs a plain hand-made ``quantize_static``, measured side by side.

Prints one table of ratios (never absolute targets: machines are noisy):
- latency FP32 / INT8 at batch 1 and 16, for lpot's tuned model and for ORT's own ``quantize_static``
  with its defaults on the same model and calibration data (lpot must lose nothing against it);
- size ratio; accuracy of each; tuning wall time, trials, calibration passes;
- a forced op-wise fallback search: trials vs calibration passes (calibration reused);
- ``import lpot``: time and whether any DL framework got imported.

Run: ``nox -s bench`` or ``python benchmarks/onnxrt_int8.py`` with lpot-core and lpot-onnxrt installed.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

import lpot
from lpot.report import table
from lpot_onnxrt.demo import digits_model

ROUNDS = 7
ITERATIONS = 30


class _Reader(CalibrationDataReader):
    def __init__(self, name: str, x: np.ndarray, batch: int = 10) -> None:
        self.batches = iter([{name: x[i : i + batch]} for i in range(0, len(x), batch)])

    def get_next(self):
        return next(self.batches, None)


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # FACTS: idle spinning steals cores
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _latencies(sessions: dict[str, ort.InferenceSession], x: np.ndarray) -> dict[str, float]:
    """Median ms per batch, sessions interleaved round by round so drift hits all alike."""
    samples: dict[str, list[float]] = {k: [] for k in sessions}
    feeds = {k: {s.get_inputs()[0].name: x} for k, s in sessions.items()}
    for k, s in sessions.items():
        for _ in range(5):
            s.run(None, feeds[k])
    for _ in range(ROUNDS):
        for k, s in sessions.items():
            t0 = time.perf_counter()
            for _ in range(ITERATIONS):
                s.run(None, feeds[k])
            samples[k].append((time.perf_counter() - t0) * 1000 / ITERATIONS)
    return {k: statistics.median(v) for k, v in samples.items()}


def _accuracy(session: ort.InferenceSession, x: np.ndarray, y: np.ndarray) -> float:
    logits = session.run(None, {session.get_inputs()[0].name: x})[0]
    return float((logits.argmax(1) == y).mean())


def _import_time() -> tuple[float, list[str]]:
    code = (
        "import time, sys; t=time.perf_counter(); import lpot; d=time.perf_counter()-t; "
        "print(d); print([m for m in ('torch','tensorflow','onnx','onnxruntime','mxnet') if m in sys.modules])"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(
            "\n"
        )
        for _ in range(5)
    ]
    return min(float(r[0]) for r in runs) * 1000, eval(runs[0][1])  # noqa: S307 - our own literal list


def main() -> None:
    model, (x_train, y_train, x_val, y_val) = digits_model(seed=0)
    name = model.graph.input[0].name
    calib = x_train[:100]
    work = Path(tempfile.mkdtemp(prefix="lpot-bench-"))

    t0 = time.monotonic()
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(calib, y_train[:100], batch_size=10),
        eval_dataloader=lpot.ArrayLoader(x_val, y_val, batch_size=64),
        config={
            "evaluation": {"accuracy": {"metric": {"topk": 1}}},
            "tuning": {"accuracy_criterion": {"relative": 0.01}, "workspace": {"path": str(work / "tune")}},
        },
        progress=False,
    )
    tune_s = time.monotonic() - t0

    fp32_path, plain_path = work / "fp32.onnx", work / "plain_int8.onnx"
    onnx.save(model, fp32_path)
    t0 = time.monotonic()
    quantize_static(
        str(fp32_path), str(plain_path), _Reader(name, calib), quant_format=QuantFormat.QDQ, per_channel=True
    )
    plain_s = time.monotonic() - t0
    plain = onnx.load(plain_path)

    sessions = {"fp32": _session(model), "lpot": _session(result.model), "plain": _session(plain)}
    rows = []
    for batch in (1, 16):
        lat = _latencies(sessions, x_val[:batch])
        rows.append(
            [
                f"latency ratio FP32/INT8, batch {batch}",
                lat["fp32"] / lat["lpot"],
                lat["fp32"] / lat["plain"],
                f"fp32 {lat['fp32']:.3f} ms",
            ]
        )
    size = model.ByteSize()
    rows.append(
        ["size ratio FP32/INT8", size / result.model.ByteSize(), size / plain.ByteSize(), f"fp32 {size} B"]
    )
    accs = {k: _accuracy(s, x_val, y_val) for k, s in sessions.items()}
    rows.append(["top-1 accuracy", accs["lpot"], accs["plain"], f"fp32 {accs['fp32']:.4f}"])
    rows.append(["wall time (s)", tune_s, plain_s, "lpot: whole tuning incl. baseline"])
    rows.append(
        ["trials / calibration passes", f"{len(result.trials)} / {result.calibration_passes}", "- / 1", ""]
    )

    # A search that must fall back ops one by one: calibration is still done once.
    convs = [op for op in result.recipe.quantized_ops()][:2]

    def picky(m: onnx.ModelProto) -> float:
        """Real accuracy, minus 0.5 while the first two quantized ops are both INT8."""
        return _accuracy(_session(m), x_val, y_val) - (0.5 if _both_int8(m, convs) else 0.0)

    t0 = time.monotonic()
    forced = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(calib, None, batch_size=10),
        eval_func=picky,
        config={"tuning": {"workspace": {"path": str(work / "forced")}}},
        progress=False,
    )
    rows.append(
        [
            "forced fallback: trials / calib passes",
            f"{len(forced.trials)} / {forced.calibration_passes}",
            f"{len(forced.trials)} / {len(forced.trials)}",
            f"{time.monotonic() - t0:.1f}s, {forced.status}",
        ]
    )

    import_ms, frameworks = _import_time()
    rows.append(
        ["import lpot (ms, best of 5)", import_ms, "-", f"frameworks imported: {frameworks or 'none'}"]
    )
    print(f"ONNX Runtime {ort.__version__}, lpot {lpot.__version__}, CPU: {_cpu()}")
    print(table(["measure", "lpot", "plain quantize_static", "note"], rows))


def _both_int8(m: onnx.ModelProto, ops) -> bool:
    """Whether every op in ``ops`` reads a dequantized (INT8) input in ``m``."""
    producers = {o: n for n in m.graph.node for o in n.output}
    for op in ops:
        node = next((n for n in m.graph.node if n.name == op.name), None)
        if node is None:
            continue  # QOperator: replaced by a QLinear node, INT8
        src = producers.get(node.input[0])
        if src is None or src.op_type != "DequantizeLinear":
            return False
    return True


def _cpu() -> str:
    from lpot.isa import cpu_features

    return cpu_features().describe()


if __name__ == "__main__":
    main()
