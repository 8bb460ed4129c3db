"""Issue 17, row 11: EfficientNet-Lite0 ONNX with lpot-onnxrt (static QDQ, U8S8 on this CPU).

What tune returns, which trials it spends on kl/percentile, and what falling back one node does:
the stem's ReLU6 (a Clip after the stem Conv) excluded by hand in ORT's ``quantize_static``.
Run: python repro_onnxrt_efficientnet.py [max_trials]   (in the onnxrt nox venv)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import onnx
from _repro import config, run, trial_table
from _zoo_eval import agreement_eval, onnx_runner
from lpot_zoo.agreement import evaluate, top1_agreement, top1_labelled
from lpot_zoo.exports import efficientnet_onnx, ort_predictor
from lpot_zoo.photos import photo_loader
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

max_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 12
path = efficientnet_onnx()
data = top1_labelled(photo_loader(32), ort_predictor(path))
result = run(
    "EfficientNet-Lite0, onnxrt_qdqops static, basic",
    onnx.load(str(path)),
    q_dataloader=data.take(2),
    eval_func=agreement_eval(data, onnx_runner),
    config=config("onnxrt_qdqops", max_trials=max_trials),
)
if result is not None:
    trial_table(result)
    spent = {}
    for t in result.trials:
        algo = "kl" if "kl" in t.label else "percentile" if "percentile" in t.label else "other"
        spent[algo] = spent.get(algo, 0.0) + t.quantize_s + t.evaluate_s
    total = sum(spent.values()) or 1.0
    print(
        "  time by calibration algorithm:",
        {k: f"{v:.0f} s ({100 * v / total:.0f} %)" for k, v in spent.items()},
    )


class Reader(CalibrationDataReader):
    def __init__(self) -> None:
        self.batches = iter([{"images": x} for x, _ in data.take(2)])

    def get_next(self):
        return next(self.batches, None)


work = Path(tempfile.mkdtemp())
quant_pre_process(str(path), str(work / "pre.onnx"))
pre = onnx.load(str(work / "pre.onnx"))
stem_clip = next(n.name for n in pre.graph.node if n.op_type == "Clip")
print(f"\n=== by hand: quantize_static U8S8 per-channel QDQ, all ops vs the stem Clip {stem_clip!r} excluded")
for exclude in ([], [stem_clip]):
    out = work / f"int8-{len(exclude)}.onnx"
    quantize_static(
        str(work / "pre.onnx"),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude,
    )
    acc = evaluate(data, ort_predictor(out), top1_agreement)
    print(f"  excluded {exclude or 'nothing'}: top-1 agreement {acc:.3f}")
