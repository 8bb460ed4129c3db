"""Issue 17, row 16: a model with 2 inputs (MiniLM ONNX) or 2 outputs (skl2onnx MLP) from the CLI.

``--data`` reads an .npz: what does it accept for a model whose inputs are ``input_ids`` and
``attention_mask``, and what does its error tell the user to do?
Run: python repro_cli_multi_io.py   (in the onnxrt nox venv)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import yaml
from _repro import tune_cli
from lpot_zoo.exports import minilm_onnx
from lpot_zoo.minilm import sentence_loader

work = Path(tempfile.mkdtemp(prefix="lpot-repro-cli-"))
batch = sentence_loader(16, fixed_length=True, max_length=32)
ids = np.concatenate([b[0]["input_ids"] for b in batch])
mask = np.concatenate([b[0]["attention_mask"] for b in batch])
conf = {
    "model": {"name": "minilm", "framework": "onnxrt_integerops", "inputs": ["input_ids", "attention_mask"]},
    "quantization": {"approach": "post_training_dynamic_quant"},
    "evaluation": {"accuracy": {"metric": {"mse": {}}}},
    "tuning": {"exit_policy": {"max_trials": 1}, "workspace": {"path": str(work / "ws")}},
}
(work / "conf.yaml").write_text(yaml.safe_dump(conf))
layouts = {
    "named as the model's inputs": {"input_ids": ids, "attention_mask": mask},
    "x as a stacked array": {"x": np.stack([ids, mask])},
}
for title, arrays in layouts.items():
    np.savez(work / "data.npz", **arrays)
    print(f"\n=== --data .npz with {title}: {sorted(arrays)}")
    tune_cli(str(work / "conf.yaml"), str(minilm_onnx()), str(work / "data.npz"), tail=6)
