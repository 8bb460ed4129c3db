"""Issue 17, rows 6 and 12: MiniLM ONNX, ``quant_pre_process`` and the cost of a dynamic tuning run.

Row 6: symbolic shape inference fails on the torch export; lpot retries without it, on every run.
Row 12: dynamic INT8: trials, wall time, per_tensor vs per_channel order, pre-processing count,
how often the objective is benchmarked.
Run: python repro_onnxrt_minilm_preprocess.py   (in the onnxrt nox venv)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import onnx
import onnxruntime.quantization.shape_inference as ort_shape_inference
from _repro import config, run, trial_table
from _zoo_eval import cosine_eval, minilm_onnx_data, onnx_runner

path, data = minilm_onnx_data()
print("=== quant_pre_process by hand on the MiniLM export")
out = Path(tempfile.mkdtemp()) / "pre.onnx"
for skip in (False, True):
    start = time.perf_counter()
    try:
        ort_shape_inference.quant_pre_process(str(path), str(out), skip_symbolic_shape=skip)
        print(f"skip_symbolic_shape={skip}: ok in {time.perf_counter() - start:.1f} s")
    except Exception as exc:
        print(f"skip_symbolic_shape={skip}: RAISED {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

# Count what one tuning run does (wrappers that count and call through): ORT's pre-processing
# and lpot-onnxrt's benchmark timing loop.
calls = {"quant_pre_process": 0, "benchmark": 0}
original = ort_shape_inference.quant_pre_process


def counted(*args, **kwargs):
    calls["quant_pre_process"] += 1
    return original(*args, **kwargs)


import onnxruntime.quantization  # noqa: E402

import lpot_onnxrt.benchmarking  # noqa: E402

onnxruntime.quantization.quant_pre_process = counted  # lpot imports it from here at call time
original_time_calls = lpot_onnxrt.benchmarking.time_calls


def counted_time_calls(*args, **kwargs):
    calls["benchmark"] += 1
    return original_time_calls(*args, **kwargs)


lpot_onnxrt.benchmarking.time_calls = counted_time_calls

result = run(
    "MiniLM, onnxrt_integerops (dynamic), basic",
    onnx.load(str(path)),
    q_dataloader=data,
    eval_func=cosine_eval(data, onnx_runner),
    config=config("onnxrt_integerops", approach="post_training_dynamic_quant", max_trials=10, relative=0.01),
)
if result is not None:
    trial_table(result)
    for t in result.trials:
        print(f"  #{t.index} quantize {t.quantize_s:.1f} s, evaluate {t.evaluate_s:.1f} s")
print("calls during tune:", calls)
