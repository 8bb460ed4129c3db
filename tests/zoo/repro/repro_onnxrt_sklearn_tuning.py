"""Issue 17, rows 8 and 9: the skl2onnx MLPs scored on their probabilities, tuned with lpot-onnxrt.

Row 8: the export reduced to its ``probabilities`` output (what users keep for scoring), static
basic: trials fail in ORT's per-channel quantization of the Gemm that pre-processing fuses; by hand
``quantize_static(per_channel=True)`` on the raw model works. Also the 4-hidden-layer MLP.
Row 9: ``onnxrt_integerops`` (dynamic): what does the returned model quantize?
Run: python repro_onnxrt_sklearn_tuning.py   (in the onnxrt nox venv)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from _repro import config, run, trial_table
from lpot_zoo.batches import batched
from lpot_zoo.digits import digits_split
from lpot_zoo.sklearn_mlp import DEEP, SHALLOW, mlp_onnx


def probabilities_only(hidden: tuple[int, ...]) -> onnx.ModelProto:
    """The zipmap=False export with its ``label`` output dropped (the graph keeps its ArgMax)."""
    model = onnx.load(str(mlp_onnx(zipmap=False, hidden=hidden)))
    keep = [o for o in model.graph.output if o.name == "probabilities"]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    return model


_, _, x, y = digits_split()
data = batched(x, y, 64)
metric = {"evaluation": {"accuracy": {"metric": {"topk": 1}}}}
for hidden in (SHALLOW, DEEP):
    result = run(
        f"MLP {hidden} probabilities only, onnxrt_qdqops static, basic",
        probabilities_only(hidden),
        q_dataloader=data,
        eval_dataloader=data,
        config=config("onnxrt_qdqops", max_trials=20, **metric),
    )
    if result is not None:
        trial_table(result)

print("\n=== by hand: quantize_static(per_channel=True) on the raw probabilities-only model")
from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static  # noqa: E402


class Reader(CalibrationDataReader):
    def __init__(self) -> None:
        self.batches = iter([{"input": xb} for xb, _ in data])

    def get_next(self):
        return next(self.batches, None)


work = Path(tempfile.mkdtemp())
onnx.save(probabilities_only(SHALLOW), str(work / "fp32.onnx"))
try:
    quantize_static(
        str(work / "fp32.onnx"),
        str(work / "int8.onnx"),
        Reader(),
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
    )
    import onnxruntime as ort

    session = ort.InferenceSession(str(work / "int8.onnx"), providers=["CPUExecutionProvider"])
    acc = float(np.mean(session.run(None, {"input": x})[0].argmax(1) == y))
    print(f"ok: INT8 accuracy {acc:.4f}")
except Exception as exc:
    print(f"RAISED {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

result = run(
    "MLP (64,) probabilities only, onnxrt_integerops (dynamic), basic",
    probabilities_only(SHALLOW),
    q_dataloader=data,
    eval_dataloader=data,
    config=config("onnxrt_integerops", approach="post_training_dynamic_quant", max_trials=10, **metric),
)
if result is not None:
    trial_table(result)
    ops = [n.op_type for n in result.model.graph.node]
    print("  returned graph's op types:", sorted(set(ops)))
