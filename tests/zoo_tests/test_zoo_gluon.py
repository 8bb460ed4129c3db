"""The Gluon rebuild of EfficientNet-Lite0 computes what the torch model computes."""

from __future__ import annotations

import numpy as np
import pytest
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


def test_onnx_import_agrees_with_torch(photo_reference):
    """The ``mxnet-onnx`` path (issue 17's): skipped where onnx < 1.17 is not installed."""
    onnx = pytest.importorskip("onnx")
    if tuple(int(p) for p in onnx.__version__.split(".")[:2]) >= (1, 17):
        pytest.skip("mxnet.contrib.onnx needs onnx < 1.17 (the mxnet-onnx extra)")
    import mxnet as mx
    from lpot_zoo.mxnet_onnx_import import import_efficientnet_lite0

    x, logits = photo_reference
    net = import_efficientnet_lite0()
    out = np.concatenate([net(mx.nd.array(x[i : i + 8])).asnumpy() for i in range(0, len(x), 8)])
    assert top1_agreement(out, top1(logits)) >= 0.99
    assert np.abs(out - logits).max() < 1e-3
