"""Issue 17, row 1: EfficientNet-Lite0 (real weights) with lpot-pytorch: every trial fails.

Then the small shape of it (``nn.Conv2d`` subclasses calling ``F.conv2d``, BN, ReLU6) with mse and
sensitivity: does tune return a model with no INT8 op as "met"?
Run: python repro_pytorch_efficientnet.py [strategies...]   (in the pytorch nox venv)
"""

from __future__ import annotations

import sys

from _repro import config, run, trial_table
from _zoo_eval import agreement_eval
from lpot_zoo.agreement import top1_labelled
from lpot_zoo.efficientnet import load_efficientnet_lite0
from lpot_zoo.photos import photo_loader
from lpot_zoo.shapes import digit_image_batches, same_pad_conv_net
from lpot_zoo.torch_run import predictor

strategies = sys.argv[1:] or ["basic", "mse", "sensitivity"]
model = load_efficientnet_lite0()
photos = top1_labelled(photo_loader(16), predictor(model))
result = run(
    "EfficientNet-Lite0, lpot-pytorch static, basic",
    model,
    q_dataloader=photos,
    eval_func=agreement_eval(photos, predictor),
    config=config("pytorch", max_trials=3),
)
if result is not None:
    trial_table(result)

small = same_pad_conv_net()
digits = digit_image_batches(64, count=256)
for strategy in strategies:
    result = run(
        f"SamePadConvNet (F.conv2d in nn.Conv2d subclasses), lpot-pytorch static, {strategy}",
        small,
        q_dataloader=digits,
        eval_dataloader=digits,
        config=config(
            "pytorch", strategy=strategy, max_trials=8, evaluation={"accuracy": {"metric": {"topk": 1}}}
        ),
    )
    if result is not None:
        trial_table(result)
        print("  returned model's modules:", sorted({type(m).__name__ for m in result.model.modules()})[:12])
