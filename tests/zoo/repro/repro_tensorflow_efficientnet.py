"""Issue 17, row 14: EfficientNet-Lite0 (Keras rebuild) exported as a SavedModel, lpot-tensorflow,
sensitivity: a recipe with no INT8 op returned as "met", and whose figures does the summary print?

Run: python repro_tensorflow_efficientnet.py [strategy] [max_trials]   (in the tensorflow nox venv)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from _repro import config, run, trial_table
from lpot_zoo.agreement import evaluate, top1_agreement, top1_labelled
from lpot_zoo.keras_efficientnet import build_keras_efficientnet_lite0
from lpot_zoo.photos import photo_loader

strategy = sys.argv[1] if len(sys.argv) > 1 else "sensitivity"
max_trials = int(sys.argv[2]) if len(sys.argv) > 2 else 8
keras_model = build_keras_efficientnet_lite0()
saved = Path(tempfile.mkdtemp()) / "efficientnet_lite0"
keras_model.export(str(saved), verbose=False)


def runner(model):
    return lambda x: np.asarray(model.predict(x, batch_size=8, verbose=0))


photos = top1_labelled(photo_loader(16, layout="nhwc"), runner(keras_model))
result = run(
    f"EfficientNet-Lite0 SavedModel, lpot-tensorflow static, {strategy}",
    str(saved),
    q_dataloader=photos.take(1),
    eval_func=lambda model: evaluate(photos, runner(model), top1_agreement),
    config=config("tensorflow", strategy=strategy, max_trials=max_trials),
)
if result is not None:
    trial_table(result)
    print("returned model:", type(result.model).__name__)
    print("\n--- summary as printed by str(result) ---")
    print(str(result)[:1500])
