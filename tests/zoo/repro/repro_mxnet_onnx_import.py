"""Issue 17, row 13 as the issue met it: EfficientNet-Lite0 imported into MXNet from ONNX
(``mxnet.contrib.onnx``, opset 10), tuned with lpot-mxnet basic. Falling back a conv that a ReLU6
``Clip`` follows: "no calibrated range for tensor '/_blocks.0/_swish/Clip_output'"?

(``repro_mxnet_efficientnet.py`` runs the Gluon rebuild, whose clips are Gluon's own ``clip``.)
Run: python repro_mxnet_onnx_import.py [max_trials]   (mxnet venv with tests/zoo[mxnet-onnx])
"""

from __future__ import annotations

import sys

from _zoo_eval import tune_gluon_on_photos
from lpot_zoo.mxnet_onnx_import import import_efficientnet_lite0

max_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 10
tune_gluon_on_photos(
    "EfficientNet-Lite0 (ONNX import), lpot-mxnet static, basic", import_efficientnet_lite0(), max_trials
)
