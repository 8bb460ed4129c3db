"""SavedModel folders as lpot input: the digits CNN exported with ``model.export``, tuned at the
TFLite-op level (conformance suite, end to end, fallback, calibration once, resume, mse, errors)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from test_conformance import DigitsConformance

import lpot
from conformance.suite import quantize
from lpot.engine import CalibrationSpec
from lpot.errors import ConfigError, ModelError
from lpot_tensorflow.recipe_builder import recipe_for
from lpot_tensorflow.runtime import TFLiteModel
from lpot_tensorflow.saved_model import SavedModel
from models import accuracy
from probes import calibration_specs, int8_kernels, int8_ops, interpreter_op_types, tf_backend


@pytest.fixture(scope="module")
def exported(tmp_path_factory, digits):
    path = tmp_path_factory.mktemp("export") / "sm"
    digits[0].export(str(path), verbose=False)
    return path


@pytest.fixture(scope="module")
def saved_model(exported):
    """Loaded once: the float TFLite graph behind the capability is cached on it."""
    return tf_backend().load(str(exported))


def _config(tmp_path, **tuning) -> dict:
    return {"tuning": {"workspace": {"path": str(tmp_path / "ws")}, **tuning}}


def _named(model: SavedModel, part: str) -> str:
    """The op name lpot derived from the TFLite graph for the Keras layer ``part``."""
    return next(op.name for op in tf_backend().capability(model).opwise if f"/{part}_" in op.name)


class TestSavedModelConformance(DigitsConformance):
    @pytest.fixture
    def model(self, saved_model):
        return saved_model


def test_saved_model_path_tunes_to_int8_within_one_percent(tmp_path, exported, digits):
    _, (x, y, xv, yv) = digits
    received: list[type] = []

    def eval_func(model) -> float:
        received.append(type(model))
        return accuracy(model, xv, yv)

    result = lpot.tune(
        str(exported),  # no backend given: found by accepts()
        q_dataloader=lpot.ArrayLoader(x[:100], y[:100], batch_size=25),
        eval_func=eval_func,
        config=_config(tmp_path),
        progress=False,
    )
    assert result.baseline_accuracy > 0.95 and result.status == "met"
    assert result.accuracy >= result.baseline_accuracy * 0.99
    assert received[0] is SavedModel and TFLiteModel in received  # FP32 baseline, then INT8 trials
    assert isinstance(result.model, TFLiteModel)
    assert len(int8_ops(result.model)) == 5  # 3 convolutions, 2 fully connected
    assert int8_kernels(result.model) == {"CONV_2D": 3, "FULLY_CONNECTED": 2}
    # the signature's contract: one array in, any batch size, numpy out
    assert result.model(xv[:7]).shape == (7, 10)
    assert result.model({"image": xv[:3]}).shape == (3, 10)
    result.save(tmp_path / "out")
    loaded = tf_backend().read(tmp_path / "out")
    assert int8_ops(loaded) == int8_ops(result.model)
    np.testing.assert_array_equal(loaded.predict(xv), result.model.predict(xv))
    assert json.loads((tmp_path / "out" / "recipe.json").read_text())["options"]["format"] == "tflite"


def test_forced_fallback_keeps_the_op_float_calibrates_once_and_resume_calibrates_never(
    tmp_path, saved_model, digits
):
    _, (x, y, xv, yv) = digits
    conv2 = _named(saved_model, "conv2")

    def eval_func(model) -> float:  # conv2 in INT8 costs 0.5: the tuner must keep it float
        return accuracy(model, xv, yv) - (0.5 if conv2 in int8_ops(model) else 0.0)

    def tune(resume: bool):
        return lpot.tune(
            saved_model,
            q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
            eval_func=eval_func,
            config=_config(tmp_path),
            backend=tf_backend(),  # a fresh one: nothing cached from the first run
            resume=resume,
            progress=False,
        )

    first = tune(resume=False)
    assert first.status == "met" and len(first.trials) > 1
    # model-wise, basic tried each calibration algorithm; every spec was calibrated once
    specs = calibration_specs(first.trials)
    assert {a for a, _ in specs} == {"minmax", "kl", "percentile"}
    assert first.calibration_passes == len(specs)
    assert conv2 not in int8_ops(first.model) and len(int8_ops(first.model)) == 4
    kinds = interpreter_op_types(first.model, conv2)
    assert kinds == [("CONV_2D", ["float32", "float32", "float32"])], kinds  # input, kernel, bias
    again = tune(resume=True)
    assert again.new_calibration_passes == 0 and again.calibration_passes == first.calibration_passes
    assert again.recipe == first.recipe
    assert again.model.content == first.model.content  # rebuilt from the stored ranges alone


def test_mse_strategy_ranks_saved_model_ops_by_inspect(tmp_path, saved_model, digits, caplog):
    _, (x, y, xv, yv) = digits
    backend = tf_backend()
    calib = lpot.ArrayLoader(x[:64], y[:64], batch_size=32)
    conv3 = _named(saved_model, "conv3")
    with caplog.at_level(logging.WARNING, logger="lpot"):
        result = lpot.tune(
            saved_model,
            q_dataloader=calib,
            eval_func=lambda m: accuracy(m, xv, yv) - (0.5 if conv3 in int8_ops(m) else 0.0),
            config=_config(tmp_path, strategy={"name": "mse"}),
            backend=backend,
            progress=False,
        )
    assert result.status == "met" and conv3 not in int8_ops(result.model)
    assert "no per-op errors" not in caplog.text and "inspection failed" not in caplog.text
    # what mse ranked by: every op's output error, FP32 TFLite vs INT8 TFLite
    stats = {"minmax": backend.calibrate(saved_model, calib, CalibrationSpec())}
    ops = list(backend.capability(saved_model).opwise)
    errors = backend.op_errors(
        saved_model, quantize(backend, saved_model, recipe_for(saved_model), stats), ops, calib
    )
    assert set(errors) == {op.name for op in ops}
    assert all(0.0 < e < 0.05 for e in errors.values()), errors


def test_saved_model_size_benchmark_signature_and_keras_families_left_out(
    exported, saved_model, digits, caplog
):
    keras_model, (x, _, xv, _) = digits
    # the FP32 model eval_func gets for the baseline runs the signature in TensorFlow
    np.testing.assert_allclose(saved_model.predict(xv), keras_model.predict(xv, verbose=0), atol=1e-4)
    backend = tf_backend(formats=("tflite", "keras_int8"))
    again = backend.load(exported)
    assert backend.fingerprint(again) == backend.fingerprint(saved_model)
    with caplog.at_level(logging.WARNING, logger="lpot"):
        assert backend.capability(again).options["format"] == ("tflite",)
        backend.capability(again)
    assert caplog.text.count("keras_int8") == 1  # said once
    bench = backend.benchmark(saved_model, lpot.ArrayLoader(x[:32], None, 8), warmup=1, iterations=3)
    assert bench.latency_ms > 0
    serve = tf_backend(signature="serve").load(exported)
    assert serve.signature == "serve" and serve(x[:2]).shape == (2, 10)


def test_two_inputs_two_outputs_follow_the_signature_contract(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    a, b = keras.Input((16,), name="a"), keras.Input((4, 4, 2), name="b")
    z = keras.layers.Concatenate()(
        [keras.layers.Dense(8, name="da")(a), keras.layers.Flatten()(keras.layers.Conv2D(4, 3, name="cb")(b))]
    )
    model = keras.Model([a, b], [keras.layers.Dense(3, name="o1")(z), keras.layers.Dense(2, name="o2")(z)])
    model.export(str(tmp_path / "sm"), verbose=False)
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(40, 16)).astype("float32"), rng.normal(size=(40, 4, 4, 2)).astype("float32")
    backend = tf_backend()
    sm = backend.load(tmp_path / "sm")
    assert sm.input_order == ["a", "b"]  # sorted: Keras' export lists them [b, a]
    for got, want in zip(sm([xa, xb]), model.predict([xa, xb], verbose=0)):
        np.testing.assert_allclose(got, want, atol=1e-5)
    stats = {"minmax": backend.calibrate(sm, [({"a": xa, "b": xb}, None)], CalibrationSpec(sampling_size=40))}
    int8 = quantize(backend, sm, recipe_for(sm), stats)
    assert len(int8_ops(int8)) == 4
    by_list, by_name = int8.predict([xa, xb], batch_size=16), int8({"b": xb, "a": xa})
    assert [o.shape for o in by_list] == [(40, 3), (40, 2)]
    for x, y in zip(by_list, by_name):
        np.testing.assert_array_equal(x, y)


def test_keras_file_path_still_loads(tmp_path, digits):
    model, (_, _, xv, _) = digits
    model.save(tmp_path / "m.keras")
    backend = tf_backend()
    assert backend.accepts(str(tmp_path / "m.keras"))
    loaded = backend.load(tmp_path / "m.keras")
    np.testing.assert_allclose(
        loaded.predict(xv[:20], verbose=0), model.predict(xv[:20], verbose=0), atol=1e-6
    )


def test_bad_saved_model_inputs_are_one_line_errors_naming_the_path(tmp_path, exported, saved_model, digits):
    import tensorflow as tf

    backend = tf_backend()
    empty = tmp_path / "empty"
    empty.mkdir()
    bare = tmp_path / "bare"
    module = tf.Module()
    module.f = tf.function(lambda t: t * 2.0)
    tf.saved_model.save(module, str(bare))  # no signature
    cases = [
        (backend, empty, "not a TF SavedModel folder"),
        (backend, exported / "saved_model.pb", "a file inside the SavedModel folder"),
        (backend, exported / "variables" / "variables.index", "a file inside the SavedModel folder"),
        (backend, bare, "has no signature"),
        (
            tf_backend(signature="predict"),
            exported,
            "no signature 'predict'; available: 'serve', 'serving_default'",
        ),
    ]
    for which, path, message in cases:
        with pytest.raises(ModelError, match=message) as info:
            which.load(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert backend.accepts(exported / "saved_model.pb") and not backend.accepts(empty)

    x, y = digits[1][0], digits[1][1]
    with pytest.raises(ConfigError, match="quant_aware_training.*no Keras layers.*pass the keras.Model"):
        lpot.tune(
            saved_model,
            q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
            q_func=lambda m: None,
            eval_func=lambda m: 1.0,
            config={"quantization": {"approach": "quant_aware_training"}, **_config(tmp_path)},
            progress=False,
        )


def test_saved_copy_keeps_the_signature_it_was_tuned_with(tmp_path):
    """Two signatures computing different things: a reload (and a benchmark instance, which loads
    the copied folder itself) must run the one chosen with tf_backend(signature=...)."""
    import tensorflow as tf

    module = tf.Module()
    module.v = tf.Variable(2.0)
    spec = [tf.TensorSpec([None, 3], tf.float32, name="x")]
    plus = tf.function(lambda x: {"output_0": x + module.v}, input_signature=spec)
    times = tf.function(lambda x: {"output_0": x * module.v}, input_signature=spec)
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": plus, "times": times})
    x = np.ones((2, 3), np.float32)
    backend = tf_backend(signature="times")
    model = backend.load(tmp_path / "sm")
    np.testing.assert_array_equal(model(x), 2 * x)
    folder = backend.save(model, tmp_path / "out")
    for path in (tmp_path / "out", folder):  # what a reload and a benchmark instance open
        again = tf_backend().load(path)
        assert again.signature == "times"
        np.testing.assert_array_equal(again(x), 2 * x)
    assert tf_backend().fingerprint(again) == backend.fingerprint(model)  # lpot's note not hashed
    chosen = tf_backend(signature="serving_default").load(tmp_path / "out")  # asking still wins
    np.testing.assert_array_equal(chosen(x), x + 2)
