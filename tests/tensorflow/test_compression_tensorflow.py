"""Keras pruning and distillation callbacks on a digits CNN trained in seconds."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lpot.compression import sparsity_at  # noqa: E402
from lpot.errors import ConfigError  # noqa: E402
from lpot_tensorflow.distillation import DistillationCallback  # noqa: E402
from lpot_tensorflow.pruning import PruningCallback, sparsity_report  # noqa: E402

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture(scope="module")
def kdigits():
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype("float32")[..., None]
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], d.target[order]
    return x[:1200], y[:1200], x[1200:], y[1200:]


def _cnn(lr: float = 3e-3) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu", name="fc1"),
            keras.layers.Dense(10, name="fc2"),
        ]
    )
    model.compile(keras.optimizers.Adam(lr), LOSS, metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def trained(kdigits):
    x, y, _, _ = kdigits
    model = _cnn()
    model.fit(x, y, epochs=6, batch_size=64, verbose=0)
    return model


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


def _copy(model: keras.Model, lr: float = 1e-3) -> keras.Model:
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.compile(keras.optimizers.Adam(lr), LOSS, metrics=["accuracy"])
    return clone


class _Record(keras.callbacks.Callback):
    def __init__(self, pruning: PruningCallback) -> None:
        super().__init__()
        self.pruning, self.seen = pruning, []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(float(np.mean(list(self.pruning.sparsity().values()))))


def test_gradual_pruning_follows_the_schedule_and_keeps_accuracy(kdigits, trained):
    x, y, xv, yv = kdigits
    model = _copy(trained)
    pruning = PruningCallback({"target_sparsity": 0.8, "start_epoch": 0, "end_epoch": 3})
    record = _Record(pruning)
    model.fit(x, y, epochs=5, batch_size=64, verbose=0, callbacks=[pruning, record])
    for epoch, got in enumerate(record.seen):
        assert got == pytest.approx(sparsity_at(epoch, target=0.8, end_epoch=3), abs=0.01)
    stripped = pruning.strip()
    assert all(abs(s - 0.8) <= 0.01 for s in sparsity_report(stripped).values())
    assert _accuracy(stripped, xv, yv) >= _accuracy(trained, xv, yv) - 0.02


def test_two_four_and_pattern_lock(kdigits, trained):
    x, y, xv, yv = kdigits
    model = _copy(trained)
    nm = PruningCallback({"pattern": "2:4", "names": ["conv2", "fc*"]})
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[nm])
    kernel = np.asarray(model.get_layer("fc1").kernel)  # [in, out]: groups of 4 inputs per output
    assert ((kernel.T.reshape(64, -1, 4) == 0).sum(-1) >= 2).all()
    zeros = {name: np.asarray(model.get_layer(name).kernel) == 0 for name in ("conv2", "fc1", "fc2")}
    locked = _copy(model)
    lock = PruningCallback({"method": "pattern_lock"})
    locked.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[lock])
    for name, was_zero in zeros.items():
        assert (np.asarray(locked.get_layer(name).kernel)[was_zero] == 0).all()
    assert _accuracy(locked, xv, yv) >= _accuracy(trained, xv, yv) - 0.03


def test_gradient_sensitivity_reaches_its_target(kdigits, trained):
    x, y, _, _ = kdigits
    model = _copy(trained)
    cb = PruningCallback(
        {"method": "gradient_sensitivity", "target_sparsity": 0.6, "start_epoch": 1, "end_epoch": 2}
    )
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[cb])
    assert all(abs(s - 0.6) <= 0.01 for s in sparsity_report(model).values())


def test_bad_settings_are_config_errors(trained):
    with pytest.raises(ConfigError, match=r"pruning\.pattern"):
        PruningCallback({"pattern": "3:2"})
    model = _copy(trained)
    cb = PruningCallback({"names": ["nothing*"]})
    cb.set_model(model)
    with pytest.raises(ConfigError, match="no Dense/Conv layer"):
        cb.on_train_begin()


def test_distillation_callback_beats_the_same_student_alone(kdigits, trained):
    """Noisy labels (30 % replaced at random) for the student; the teacher learnt from clean ones."""
    x, y, xv, yv = kdigits
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(len(y)) < 0.3
    noisy[flip] = rng.integers(0, 10, int(flip.sum()))

    def student() -> keras.Model:
        keras.utils.set_random_seed(0)
        s = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Flatten(),
                keras.layers.Dense(32, activation="relu"),
                keras.layers.Dense(10),
            ]
        )
        s.compile(keras.optimizers.Adam(1e-2), LOSS, metrics=["accuracy"])
        return s

    alone = student()
    alone.fit(x[:600], noisy[:600], epochs=15, batch_size=32, verbose=0)
    distilled = student()
    kd = DistillationCallback(trained, {"temperature": 4, "loss_weights": [0.3, 0.7]})
    distilled.fit(x[:600], noisy[:600], epochs=15, batch_size=32, verbose=0, callbacks=[kd])
    assert _accuracy(distilled, xv, yv) >= _accuracy(alone, xv, yv) + 0.02
    assert "compute_loss" not in distilled.__dict__  # the student's own loss is back after fit


def test_pruned_model_keeps_its_zeros_in_int8_tflite(kdigits, trained, tmp_path):
    """Pruning, then lpot.tune: the INT8 kernels of the TFLite model keep the zeros (symmetric INT8)."""
    import lpot
    from lpot_tensorflow.runtime import TFLiteModel, interpreter_class

    x, y, xv, yv = kdigits
    model = _copy(trained)
    pruning = PruningCallback({"target_sparsity": 0.7, "end_epoch": 1})
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[pruning])
    sparse = pruning.strip()
    result = lpot.tune(
        sparse,
        q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
        eval_func=lambda m: _accuracy(m, xv, yv),
        config={"tuning": {"workspace": {"path": str(tmp_path)}}},
        progress=False,
    )
    assert result.status == "met" and isinstance(result.model, TFLiteModel)
    interpreter = interpreter_class()(model_content=result.model.content)
    kernels = []
    for detail in interpreter.get_tensor_details():
        if detail["dtype"] == np.int8 and len(detail["shape"]) >= 2:
            try:
                kernels.append(interpreter.get_tensor(detail["index"]))
            except ValueError:  # activations have no data before a run
                continue
    weights = [k for k in kernels if np.any(k != 0)]  # unallocated activation buffers read as zeros
    assert len(weights) >= 4  # conv1, conv2, fc1, fc2 (+ conv3 in this net) as INT8 constants
    for kernel in weights:
        assert np.mean(kernel == 0) >= 0.69
