"""Issue 17, row 4: MiniLM ONNX, lpot-onnxrt static with kl / percentile calibration.

The sentence batches are padded per batch (different sequence lengths, as users' loaders do).
Run: python repro_onnxrt_minilm_static.py   (in the onnxrt nox venv)
"""

from __future__ import annotations

import onnx
from _repro import config, run, trial_table
from _zoo_eval import cosine_eval, minilm_onnx_data, onnx_runner

path, data = minilm_onnx_data()
print("sequence lengths per batch:", [inputs["input_ids"].shape[1] for inputs, _ in data])
for algorithm in ("kl", "percentile", "minmax"):
    result = run(
        f"MiniLM, lpot-onnxrt static, activation algorithm {algorithm}",
        onnx.load(str(path)),
        q_dataloader=data,
        eval_func=cosine_eval(data, onnx_runner),
        config=config(
            "onnxrt_qdqops",
            max_trials=2,
            quantization={"model_wise": {"activation": {"algorithm": [algorithm]}}},
        ),
    )
    if result is not None:
        trial_table(result)
