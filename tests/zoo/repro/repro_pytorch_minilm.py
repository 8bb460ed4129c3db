"""Issue 17, rows 2 and 3: all-MiniLM-L6-v2 (transformers BertModel, keyword inputs) with lpot-pytorch.

Row 2: dynamic INT8 runs its trials, then saving best_model fails and the result is lost.
Row 3: static INT8 cannot trace the top-level forward; so does FX by hand (prepare_fx).
Run: python repro_pytorch_minilm.py   (in the pytorch nox venv)
"""

from __future__ import annotations

import torch
from _repro import config, run, trial_table
from _zoo_eval import cosine_eval, torch_embedding
from lpot_zoo.agreement import reference_labelled
from lpot_zoo.minilm import load_bert, sentence_loader

bert = load_bert()
data = reference_labelled(sentence_loader(24), torch_embedding(bert))
runs = [
    ("post_training_dynamic_quant", "basic"),
    ("post_training_dynamic_quant", "mse"),
    ("post_training_static_quant", "basic"),
]
for approach, strategy in runs:
    result = run(
        f"MiniLM BertModel, lpot-pytorch, {approach}, {strategy}",
        bert,
        q_dataloader=data,
        eval_func=cosine_eval(data, torch_embedding),
        config=config("pytorch", approach=approach, strategy=strategy, max_trials=10),
    )
    if result is not None:
        trial_table(result)

print("\n=== MiniLM BertModel, FX by hand: prepare_fx(x86 qconfig mapping)")
from torch.ao.quantization import get_default_qconfig_mapping  # noqa: E402
from torch.ao.quantization.quantize_fx import prepare_fx  # noqa: E402

example = {k: torch.from_numpy(v) for k, v in data[0][0].items()}
try:
    prepare_fx(bert, get_default_qconfig_mapping("x86"), (example["input_ids"], example["attention_mask"]))
    print("prepare_fx traced BertModel")
except Exception as exc:  # what the user sees
    print(f"RAISED: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
