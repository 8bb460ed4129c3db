"""The Keras 3 rebuild of EfficientNet-Lite0 computes what the torch model computes."""

from __future__ import annotations

import numpy as np
from lpot_zoo.agreement import top1, top1_agreement


def test_keras_rebuild_agrees_with_torch(photo_reference):
    from lpot_zoo.keras_efficientnet import build_keras_efficientnet_lite0

    x, logits = photo_reference
    model = build_keras_efficientnet_lite0()
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert sum(1 for layer in model.layers if "_conv" in layer.name) == 49
    out = model.predict(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), batch_size=8, verbose=0)
    assert top1_agreement(out, top1(logits)) >= 0.99
    assert np.abs(out - logits).max() < 1e-3
