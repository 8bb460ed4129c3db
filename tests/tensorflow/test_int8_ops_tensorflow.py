"""``int8_ops``: weighted-only INT8 keeps attention's matmuls, softmax and the layer norm's arithmetic
float; ``all`` quantizes them too. The default follows the model (weighted-only where there is
attention or normalisation). Speed is measured in benchmarks/tensorflow_int8.py."""

from __future__ import annotations

import numpy as np
import pytest

import lpot
from conformance.suite import quantize
from lpot.engine import CalibrationSpec
from lpot_tensorflow.recipe_builder import recipe_for
from probes import kernel_dtypes, tf_backend


@pytest.fixture(scope="module")
def attention():
    import keras

    keras.utils.set_random_seed(0)
    layers = keras.layers
    inputs = keras.Input((8, 16), name="tokens")
    x = layers.MultiHeadAttention(2, 8, name="mha")(inputs, inputs)
    x = layers.LayerNormalization(name="ln")(layers.Add(name="res")([inputs, x]))
    x = layers.Dense(16, activation="relu", name="ffn")(x)
    model = keras.Model(inputs, layers.Dense(4, name="head")(layers.GlobalAveragePooling1D()(x)))
    data = np.random.default_rng(0).standard_normal((64, 8, 16)).astype(np.float32)
    stats = {
        "minmax": tf_backend().calibrate(
            model, lpot.ArrayLoader(data[:32], np.zeros(32), batch_size=16), CalibrationSpec()
        )
    }
    return model, data, stats


def test_the_default_follows_the_model_and_the_other_stays_in_the_space(attention, digits, tmp_path):
    backend = tf_backend()
    assert backend.capability(attention[0]).options["int8_ops"] == ("weighted", "all")
    assert backend.capability(digits[0]).options["int8_ops"] == ("all", "weighted")  # a CNN
    attention[0].export(str(tmp_path / "sm"), verbose=False)  # no layers: read from the TFLite graph
    saved = backend.load(tmp_path / "sm")
    assert backend.capability(saved).options["int8_ops"] == ("weighted", "all")


@pytest.mark.parametrize(
    ("int8_ops", "attention_dtype"), [("weighted", "float32"), ("all", "int8")], ids=["weighted", "all"]
)
def test_which_ops_run_int8(attention, int8_ops, attention_dtype):
    model, data, stats = attention
    quantized = quantize(tf_backend(), model, recipe_for(model, int8_ops=int8_ops), stats)
    kinds = kernel_dtypes(quantized)
    assert kinds["FULLY_CONNECTED"] == {"int8"}  # the weighted ops are INT8 either way
    for op in ("BATCH_MATMUL", "SOFTMAX", "SQUARED_DIFFERENCE"):  # attention and layer norm
        assert kinds[op] == {attention_dtype}, (op, kinds[op])
    reference = np.asarray(model.predict(data[32:], verbose=0))
    np.testing.assert_allclose(quantized(data[32:]), reference, atol=0.15 * np.abs(reference).max())
