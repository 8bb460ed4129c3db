"""Small real Keras models for the tests and benchmarks, built and trained here in seconds."""

from __future__ import annotations

import functools

import numpy as np


def digits_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as float32 NHWC in [0, 1], split 1200 train / 597 validation."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    return x[:1200], y[:1200], x[1200:], y[1200:]


def digits_cnn(seed: int = 0):
    """Conv-BN-ReLU blocks, a residual add, pooling and two Dense layers: what TFLite must fuse
    (BN into conv, ReLU into conv/FC), quantize (add, pool, reshape) and keep apart on fallback."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    # momentum 0.9 (torch's 0.1): Keras' default 0.99 leaves the moving statistics half-way after the
    # ~150 steps trained here, and validation accuracy swung 0.93-0.96 with the seed (0.97-0.99 now)
    bn = functools.partial(layers.BatchNormalization, momentum=0.9)
    inputs = keras.Input((8, 8, 1), name="image")
    x = layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.ReLU(name="relu1")(bn(name="bn1")(x))
    y = layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv2")(x)
    y = bn(name="bn2")(y)
    x = layers.ReLU(name="relu2")(layers.Add(name="add")([y, x]))
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc1")(x)
    outputs = layers.Dense(10, name="fc2")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def compile_for_training(model, lr: float = 3e-3):
    import keras

    # metrics= by keyword: a positional list is taken as loss weights
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def train(model, x: np.ndarray, y: np.ndarray, epochs: int = 8, lr: float = 3e-3, callbacks=()):
    compile_for_training(model, lr)
    model.fit(x, y, epochs=epochs, batch_size=64, verbose=0, callbacks=list(callbacks), shuffle=True)
    return model


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of a Keras model or an lpot TFLiteModel (both have predict())."""
    logits = np.asarray(model.predict(x, batch_size=200, verbose=0))
    return float((logits.argmax(-1) == y).mean())
