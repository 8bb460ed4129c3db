"""Issue 17, row 15: the same recipe's speed verdict, run after run and executor after executor.

EfficientNet-Lite0 ONNX, one trial (the default model-wise recipe), tuned five times: serially
three times, then twice on the local executor. The recipe is the same; what does the objective
ratio (FP32 latency / tuned latency) say each time, and does any run warn "slower than FP32"?
Run: python repro_onnxrt_speed_verdict.py   (in the onnxrt nox venv)
"""

from __future__ import annotations

import onnx
from _repro import config, run
from _zoo_eval import agreement_eval, onnx_runner
from lpot_zoo.agreement import top1_labelled
from lpot_zoo.exports import efficientnet_onnx, ort_predictor
from lpot_zoo.photos import photo_loader


def main() -> None:
    path = efficientnet_onnx()
    data = top1_labelled(photo_loader(16), ort_predictor(path))
    ratios = []
    for attempt, executor in enumerate(["serial", "serial", "serial", "local", "local"]):
        cfg = config("onnxrt_qdqops", max_trials=1, relative=0.5)
        cfg["tuning"]["executor"] = {"name": executor, **({"workers": 1} if executor == "local" else {})}
        result = run(
            f"run {attempt + 1}, executor {executor}",
            onnx.load(str(path)),
            q_dataloader=data.take(1),
            eval_func=agreement_eval(data, onnx_runner),
            config=cfg,
        )
        if result is not None:
            ratios.append(result.objective_ratio)
            print(f"  FP32 {result.baseline_objective} vs tuned {result.objective}")
    print("\nobjective ratios of the same recipe:", [f"{r:.2f}x" for r in ratios if r])


if __name__ == "__main__":  # the local executor spawns workers that import this file
    main()
