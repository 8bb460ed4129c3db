"""Issue 17, row 5: MiniLM ONNX with the mse and sensitivity strategies (and basic to compare).

Per-op ``inspect`` meets calibration batches of different sequence lengths.
Run: python repro_onnxrt_minilm_strategies.py [framework]   (onnxrt venv; default onnxrt_integerops)
"""

from __future__ import annotations

import sys

import onnx
from _repro import config, run
from _zoo_eval import cosine_eval, minilm_onnx_data, onnx_runner

framework = sys.argv[1] if len(sys.argv) > 1 else "onnxrt_integerops"
approach = "post_training_dynamic_quant" if framework == "onnxrt_integerops" else "post_training_static_quant"
path, data = minilm_onnx_data()
for strategy in ("basic", "mse", "sensitivity"):
    result = run(
        f"MiniLM, {framework}, {strategy}",
        onnx.load(str(path)),
        q_dataloader=data,
        eval_func=cosine_eval(data, onnx_runner),
        config=config(framework, approach=approach, strategy=strategy, max_trials=12, relative=0.005),
    )
