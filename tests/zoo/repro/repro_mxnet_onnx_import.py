"""Issue 17, row 13 as the issue met it: EfficientNet-Lite0 imported into MXNet from ONNX
(``mxnet.contrib.onnx``, opset 10), tuned with lpot-mxnet basic. Falling back a conv that a ReLU6
``Clip`` follows: "no calibrated range for tensor '/_blocks.0/_swish/Clip_output'"?

(``repro_mxnet_efficientnet.py`` runs the Gluon rebuild, whose clips are Gluon's own ``clip``.)
Run: python repro_mxnet_onnx_import.py [max_trials]   (mxnet venv with tests/zoo[mxnet-onnx])
"""

from __future__ import annotations

import sys

import mxnet as mx
from _repro import config, run, trial_table

from lpot_zoo.agreement import evaluate, top1_agreement, top1_labelled
from lpot_zoo.mxnet_onnx_import import import_efficientnet_lite0
from lpot_zoo.photos import photo_loader


def gluon_runner(net):
    return lambda x: net(mx.nd.array(x)).asnumpy()


max_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 10
net = import_efficientnet_lite0()
photos = top1_labelled(photo_loader(16), gluon_runner(net))
result = run(
    "EfficientNet-Lite0 (ONNX import), lpot-mxnet static, basic",
    net,
    q_dataloader=photos.take(1),
    eval_func=lambda model: evaluate(photos, gluon_runner(model), top1_agreement),
    config=config("mxnet", max_trials=max_trials),
)
if result is not None:
    trial_table(result)
