"""Issue 17, row 7: a scikit-learn MLP exported by skl2onnx, tuned from the CLI with ``topk: 1``.

The export's outputs are ``label`` (1-D int64) then ``probabilities``. Which one does lpot score?
Then the same with ``model.outputs: [probabilities]`` and with names that do not exist.
Run: python repro_onnxrt_sklearn_cli.py   (in the onnxrt nox venv)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import yaml
from _repro import tune_cli
from lpot_zoo.digits import digits_split
from lpot_zoo.sklearn_mlp import mlp_classifier, mlp_onnx

work = Path(tempfile.mkdtemp(prefix="lpot-repro-cli-"))
_, _, x, y = digits_split()
np.savez(work / "digits.npz", x=x, y=y)
print("scikit-learn's own accuracy:", round(mlp_classifier().score(x, y), 4))


def tune_mlp(title: str, model_section: dict) -> None:
    conf = {
        "model": {"name": "mlp", "framework": "onnxrt_qdqops", **model_section},
        # per-tensor weights: per-channel trials of this graph fail in ORT (row 8), not what this row is about
        "quantization": {
            "approach": "post_training_static_quant",
            "model_wise": {"weight": {"granularity": ["per_tensor"]}},
        },
        "evaluation": {"accuracy": {"metric": {"topk": 1}}},
        "tuning": {
            "accuracy_criterion": {"relative": 0.01},
            "exit_policy": {"max_trials": 3},
            "workspace": {"path": str(work / f"ws-{len(list(work.iterdir()))}")},
        },
    }
    (work / "conf.yaml").write_text(yaml.safe_dump(conf))
    print(
        f"\n=== {title}\n$ lpot tune conf.yaml --model mlp.onnx --data digits.npz   # model: {model_section}"
    )
    tune_cli(str(work / "conf.yaml"), str(mlp_onnx(zipmap=False)), str(work / "digits.npz"))


tune_mlp("outputs not declared", {})
tune_mlp("outputs: [probabilities]", {"outputs": ["probabilities"]})
tune_mlp("outputs and inputs that do not exist", {"outputs": ["no_such_output"], "inputs": ["no_such_input"]})
