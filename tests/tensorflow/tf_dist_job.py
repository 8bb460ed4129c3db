"""Keras callbacks under tf.distribute.MirroredStrategy on two logical CPU devices (own process:
logical devices must be configured before TensorFlow starts). Prints one JSON line of findings."""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lpot_tensorflow import QuantizationAwareCallback, convert  # noqa: E402
from lpot_tensorflow.pruning import PruningCallback  # noqa: E402


def main() -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x, y = (digits.images / 16.0).astype("float32")[..., None], digits.target
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
                keras.layers.Flatten(),
                keras.layers.Dense(10, name="fc"),
            ]
        )
        model.compile(
            keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        )
    pruning = PruningCallback({"target_sparsity": 0.7, "end_epoch": 1})
    model.fit(x, y, epochs=3, batch_size=64, verbose=0, callbacks=[pruning])
    replicas = {}
    for name in ("conv1", "fc"):
        values = [v.numpy() for v in model.get_layer(name).kernel.value.values]
        replicas[name] = {
            "sparsity": [float(np.mean(v == 0)) for v in values],
            "equal": all(np.array_equal(values[0], v) for v in values[1:]),
        }
    qat = QuantizationAwareCallback(x[:128], freeze_epoch=1)
    model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[qat])
    int8 = convert(model)
    accuracy = float(np.mean(np.argmax(int8.predict(x[:300]), -1) == y[:300]))
    print(
        json.dumps(
            {
                "replicas": strategy.num_replicas_in_sync,
                "kernels": replicas,
                "int8_layers": sorted(int8.int8_layers()),
                "accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
