"""The Gluon rebuild of EfficientNet-Lite0 computes what the torch model computes."""

from __future__ import annotations

import numpy as np
from lpot_zoo.agreement import top1, top1_agreement


def test_gluon_rebuild_agrees_with_torch(photo_reference):
    import mxnet as mx
    from lpot_zoo.gluon_efficientnet import build_gluon_efficientnet_lite0

    x, logits = photo_reference
    net = build_gluon_efficientnet_lite0()
    convs = [name for name in net.collect_params() if name.endswith("conv0_weight")]
    assert len(convs) == 49
    out = np.concatenate([net(mx.nd.array(x[i : i + 8])).asnumpy() for i in range(0, len(x), 8)])
    assert top1_agreement(out, top1(logits)) >= 0.99
    assert np.abs(out - logits).max() < 1e-3
