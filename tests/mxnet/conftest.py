from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for the shared conformance suite
SEED = int(os.environ.get("LPOT_TEST_SEED", "0"))  # another seed rehearses other numerics


def build_digits_net(seed: int = 0, epochs: int = 8):
    """A small Gluon CNN trained in about a second on scikit-learn's digits (upsampled to 16x16).

    Returns the hybridized, already-run net and ``(x_train, y_train, x_val, y_val)`` float32 arrays.
    """
    import mxnet as mx
    from mxnet import autograd, gluon
    from mxnet.gluon import nn
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x = np.repeat(np.repeat(x, 2, axis=2), 2, axis=3)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    x_train, y_train, x_val, y_val = x[:1400], y[:1400], x[1400:], y[1400:]
    mx.random.seed(seed)
    net = nn.HybridSequential()
    net.add(
        nn.Conv2D(16, 3, padding=1),
        nn.BatchNorm(),
        nn.Activation("relu"),
        nn.MaxPool2D(2),
        nn.Conv2D(32, 3, padding=1, activation="relu"),
        nn.MaxPool2D(2),
        nn.Flatten(),
        nn.Dense(64, activation="relu"),
        nn.Dense(10),
    )
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 3e-3})
    loss = gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(epochs):
        for i in range(0, len(x_train), 50):
            xb, yb = mx.nd.array(x_train[i : i + 50]), mx.nd.array(y_train[i : i + 50])
            with autograd.record():
                out = loss(net(xb), yb)
            out.backward()
            trainer.step(len(xb))
    net(mx.nd.array(x_val[:1]))  # leave the inference graph cached, as a user's trained net has it
    return net, (x_train, y_train, x_val, y_val)


@pytest.fixture(scope="session")
def digits_data():
    return build_digits_net(seed=SEED)


def pytest_configure(config):
    # mxnet 1.9.1 warns on import about numpy/scipy/distutils APIs it still uses: noise, not our code
    for module in ("mxnet", "distutils"):
        config.addinivalue_line("filterwarnings", f"ignore::DeprecationWarning:{module}.*")
    config.addinivalue_line("filterwarnings", "ignore:Cannot decide type:UserWarning")
