"""Issue 17, row 13: EfficientNet-Lite0 rebuilt in Gluon, lpot-mxnet: falling back a conv that a
ReLU6 clip follows fails the trial with "no calibrated range".

Then the small repro: Conv -> BN -> clip(0, 6) next to a conv with no clip after it. The accuracy
goal cannot be met (the score is minus the output's squared error vs FP32), so basic falls every
op back in turn.
Run: python repro_mxnet_efficientnet.py [max_trials]   (in the mxnet nox venv)
"""

from __future__ import annotations

import sys

import mxnet as mx
import numpy as np
from _repro import config, run, trial_table
from _zoo_eval import tune_gluon_on_photos
from lpot_zoo.batches import batched
from lpot_zoo.gluon_efficientnet import build_gluon_efficientnet_lite0
from mxnet.gluon import nn

max_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 12
tune_gluon_on_photos(
    "EfficientNet-Lite0 (Gluon rebuild), lpot-mxnet static, basic",
    build_gluon_efficientnet_lite0(),
    max_trials,
)


class Small(nn.HybridBlock):
    """conv_a -> BN -> clip(0, 6) -> conv_b -> BN (no clip) -> dense."""

    def __init__(self) -> None:
        super().__init__(prefix="small_")
        with self.name_scope():
            self.conv_a = nn.Conv2D(8, 3, padding=1, in_channels=3, use_bias=False)
            self.bn_a = nn.BatchNorm(in_channels=8)
            self.conv_b = nn.Conv2D(8, 3, padding=1, in_channels=8, use_bias=False)
            self.bn_b = nn.BatchNorm(in_channels=8)
            self.fc = nn.Dense(4, in_units=8 * 16 * 16)

    def hybrid_forward(self, F, x):
        x = F.clip(self.bn_a(self.conv_a(x)), 0, 6)
        return self.fc(self.bn_b(self.conv_b(x)))


mx.random.seed(0)
small = Small()
small.initialize(mx.init.Xavier())
small.hybridize()
x = np.random.default_rng(0).normal(size=(32, 3, 16, 16)).astype(np.float32)
reference = small(mx.nd.array(x)).asnumpy()
data = batched(x, None, 16)


def minus_error(model) -> float:
    out = np.concatenate([model(mx.nd.array(xb)).asnumpy() for xb, _ in data])
    return -float(np.mean((out - reference) ** 2))


result = run(
    "Small Gluon net Conv -> BN -> clip(0, 6), lpot-mxnet static, basic (goal unreachable)",
    small,
    q_dataloader=data,
    eval_func=minus_error,
    config=config("mxnet", max_trials=10),
)
if result is not None:
    trial_table(result)
