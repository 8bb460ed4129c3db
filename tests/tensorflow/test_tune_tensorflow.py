"""End to end through lpot.tune and the Keras idioms on real Keras models (digits CNN, an MLP)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import lpot
from conformance.suite import quantize
from lpot.engine import CalibrationSpec
from lpot.errors import ConfigError, ModelError
from lpot.space import build_space
from lpot_tensorflow.recipe_builder import recipe_for
from lpot_tensorflow.runtime import TFLiteModel
from models import accuracy, digits_cnn, train
from probes import float_layers, int8_ops, tf_backend

HERE = Path(__file__).resolve().parent
ALL = {"conv1", "conv2", "conv3", "fc1", "fc2"}


def _config(tmp_path: Path, **tuning) -> dict:
    return {"tuning": {"workspace": {"path": str(tmp_path / "ws")}, **tuning}}


def test_static_int8_meets_one_percent_with_eval_func(tmp_path, digits):
    model, (x, y, xv, yv) = digits
    baseline = accuracy(model, xv, yv)
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:100], y[:100], batch_size=25),
        eval_func=lambda m: accuracy(m, xv, yv),
        config=_config(tmp_path),
        progress=False,
    )
    assert baseline > 0.95
    assert result.status == "met"
    assert result.accuracy >= baseline * 0.99
    assert isinstance(result.model, TFLiteModel)
    assert int8_ops(result.model) == ALL
    # the Keras contract: model(x) and predict(x) on any batch size, numpy out
    assert result.model(xv[:7]).shape == (7, 10)
    assert accuracy(result.model, xv, yv) == pytest.approx(result.accuracy)
    result.save(tmp_path / "out")
    loaded = tf_backend().read(tmp_path / "out")
    assert int8_ops(loaded) == ALL  # the layer table travels inside the .tflite
    np.testing.assert_array_equal(loaded.predict(xv), result.model.predict(xv))
    assert json.loads((tmp_path / "out" / "recipe.json").read_text())["options"]["format"] == "tflite"


def test_layer_fallback_keeps_that_layer_float_and_resume_rebuilds_the_same_bytes(digits, capfd):
    model, (x, y, xv, yv) = digits
    backend = tf_backend()
    stats = {
        "minmax": backend.calibrate(model, lpot.ArrayLoader(x[:64], y[:64], batch_size=32), CalibrationSpec())
    }
    recipe = recipe_for(model, ALL - {"conv2"})
    quantized = quantize(backend, model, recipe, stats)
    assert int8_ops(quantized) == ALL - {"conv2"}
    assert "conv2" in float_layers(quantized)
    assert accuracy(quantized, xv, yv) >= accuracy(model, xv, yv) - 0.02
    # a new process has no cached calibrated graph: it is rebuilt without data, ranges from the JSON stats
    fresh = quantize(tf_backend(), model, recipe, stats)
    assert fresh.content == quantized.content
    assert "fully_quantize" not in capfd.readouterr().err  # the quantizer's C++ print, dropped


def test_quantizer_chatter_is_dropped_and_other_stderr_lines_are_kept(capfd):
    """The fd-2 redirect around mlir_quantize drops only the quantizer's settings line."""
    import os

    from lpot_tensorflow.tflite import QUANTIZER_CHATTER, filtered_stderr

    with filtered_stderr(QUANTIZER_CHATTER):
        os.write(2, b"fully_quantize: 0, inference_type: 6, input_inference_type: FLOAT32\nkept line\n")
    print("after", file=sys.stderr)
    assert capfd.readouterr().err == "kept line\nafter\n"


def test_default_space_and_errors(digits):
    model = digits[0]
    backend = tf_backend()
    cap = backend.capability(model)
    assert [k.name for k in cap.opwise] == ["conv1", "conv2", "conv3", "fc1", "fc2"]
    assert cap.options["format"][0] == "tflite" and "keras_int8" not in cap.options["format"]
    assert cap.options["activation.algorithm"] == ("minmax", "kl", "percentile")
    assert tf_backend().capability(model, "post_training_static_quant", "model_size").options["format"][
        :2
    ] == (
        "tflite",
        "keras_int8",
    )
    with pytest.raises(ConfigError, match="op_wise: no quantizable op named 'fc3'.*did you mean 'fc2'"):
        build_space(cap, approach="post_training_static_quant", op_wise={"fc3": {}})
    with pytest.raises(ConfigError, match="unknown"):
        tf_backend(formats=("onnx",))


def test_import_and_accepts_do_not_import_tensorflow():
    code = (
        "import sys, lpot_tensorflow\n"
        "from lpot_tensorflow.engine import TensorFlowEngine\n"
        "b = TensorFlowEngine()\n"
        "assert not b.accepts(object()) and not b.accepts(3.0)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_untraceable_subclassed_model_is_named(tmp_path, digits):
    import keras
    import tensorflow as tf

    class Gate(keras.Model):
        def __init__(self):
            super().__init__(name="gate_model")
            self.dense = keras.layers.Dense(10, name="dense")

        def call(self, x):
            flat = keras.ops.reshape(x, (-1, 64))
            if float(tf.reduce_sum(flat)) > 0:  # Python control flow on a tensor value: not traceable
                return self.dense(flat)
            return flat[:, :10]

    _, (x, y, xv, yv) = digits
    gate = Gate()
    gate(x[:2])
    with pytest.raises(ModelError, match=r"Gate 'gate_model'.*traceable"):
        lpot.tune(
            gate,
            q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
            eval_func=lambda m: 1.0,
            config=_config(tmp_path),
            progress=False,
        )


def test_a_functional_model_the_converter_fails_on_is_not_called_untraceable(digits):
    from lpot_tensorflow.keras_source import conversion_error

    error = conversion_error(digits[0], RuntimeError("conv.cc:345 input->dims->size != 4\nmore"))
    assert isinstance(error, ModelError)
    assert str(error).startswith(
        "the TFLite converter failed on Functional 'digits_cnn' (RuntimeError: conv.cc:345 input->dims->size != 4)"
    )
    assert "trace" not in str(error)


def mlp():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256, activation="relu", name="d1")(h)
    h = keras.layers.Dense(256, activation="relu", name="d2")(h)
    return keras.Model(inputs, keras.layers.Dense(10, name="d3")(h))


def test_keras_int8_family_for_model_size_when_tflite_cannot_meet_the_goal(tmp_path, digits):
    """TFLite INT8 is penalized by the eval_func here, so only the Keras int8 recipe meets the goal."""
    _, (x, y, xv, yv) = digits
    model = train(mlp(), x, y, epochs=5)

    def tflite_penalized(m) -> float:
        return accuracy(m, xv, yv) - (0.5 if isinstance(m, TFLiteModel) else 0.0)

    backend = tf_backend()
    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
        eval_func=tflite_penalized,
        config=_config(tmp_path, objective="model_size"),
        backend=backend,
        progress=False,
    )
    assert result.status == "met"
    assert result.recipe.options["format"] == "keras_int8"
    assert int8_ops(result.model) == {"d1", "d2", "d3"}
    assert backend.model_size(result.model) < 0.5 * backend.model_size(model)
    out = result.save(tmp_path / "out")
    loaded = backend.load(out)
    np.testing.assert_allclose(loaded.predict(xv, verbose=0), result.model.predict(xv, verbose=0), atol=1e-5)


def test_qat_callback_reaches_ptq_and_converts_to_int8(digits):
    import lpot_tensorflow
    from lpot_tensorflow.qat import QuantizationAwareCallback

    _, (x, y, xv, yv) = digits
    model = train(digits_cnn(), x, y, epochs=2)  # under-trained: fine-tuning has room to help
    backend = tf_backend()
    stats = {
        "minmax": backend.calibrate(
            model, lpot.ArrayLoader(x[:128], y[:128], batch_size=32), CalibrationSpec()
        )
    }
    ptq = accuracy(quantize(backend, model, recipe_for(model), stats), xv, yv)

    callback = lpot_tensorflow.QuantizationAwareCallback(x[:128], freeze_epoch=1)
    assert isinstance(callback, QuantizationAwareCallback)
    train(model, x, y, epochs=2, lr=1e-3, callbacks=[callback])
    converted = lpot_tensorflow.convert(model)
    assert isinstance(converted, TFLiteModel)
    assert int8_ops(converted) == ALL
    assert {op.kind for op in converted.ops() if op.input_type == 0 and op.weight_type == 0} == set()
    assert accuracy(converted, xv, yv) >= ptq - 0.005


def test_qat_through_tune_q_func(tmp_path, digits):
    from models import compile_for_training

    _, (x, y, xv, yv) = digits
    model = train(digits_cnn(), x, y, epochs=2)

    def q_func(prepared) -> None:
        compile_for_training(prepared, lr=1e-3)
        prepared.fit(x, y, epochs=1, batch_size=64, verbose=0)

    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:64], y[:64], batch_size=32),
        q_func=q_func,
        eval_func=lambda m: accuracy(m, xv, yv),
        config={"quantization": {"approach": "quant_aware_training"}, **_config(tmp_path)},
        progress=False,
    )
    assert isinstance(result.model, TFLiteModel)
    assert int8_ops(result.model) == ALL
    assert result.accuracy >= accuracy(model, xv, yv) - 0.01


def _finished(workspace: Path) -> int:
    try:
        with sqlite3.connect(workspace / "history.sqlite") as con:
            return con.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_sigkill_then_resume_redoes_nothing(tmp_path):
    workspace, calls = tmp_path / "ws", tmp_path / "calls.jsonl"
    job = [sys.executable, str(HERE / "tf_job.py"), str(workspace), "--calls", str(calls)]
    proc = subprocess.Popen([*job, "--sleep", "0.5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while _finished(workspace) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = _finished(workspace)
    seen_before = len(calls.read_text().splitlines())
    out = subprocess.run([*job, "--resume"], capture_output=True, text=True, timeout=300, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["status"] == "met"
    assert "conv2" not in summary["int8"] and "fc1" not in summary["int8"] and summary["int8"]
    assert summary["new_calibration_passes"] == 0  # the stored statistics were reused, no data read
    assert len(calls.read_text().splitlines()) - seen_before == summary["trials"] - kept
    assert kept >= 3


def test_benchmark_with_two_pinned_instances(digits):
    model, (_, _, x_val, _) = digits
    result = tf_backend().benchmark(
        model,
        lpot.ArrayLoader(x_val[:32], None, 8),
        num_instances=2,
        cores_per_instance=1,
        warmup=1,
        iterations=5,
    )
    assert result.num_instances == 2 and len(result.per_instance) == 2 and result.throughput > 0


def test_integer_token_inputs_keep_their_type(tmp_path):
    """A text classifier takes int32 token ids: the TFLite model is fed them as ints (not floats),
    and its Dense layer still runs INT8."""
    import keras

    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 50, size=(600, 12)).astype(np.int32)
    labels = (tokens < 10).sum(1) > (tokens >= 40).sum(1)  # which marker words dominate
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(50, 16, name="embed")(inputs)
    x = keras.layers.GlobalAveragePooling1D(name="mean")(x)
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Dense(32, activation="relu", name="fc")(x))
    model = keras.Model(inputs, outputs)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(tokens[:400], labels[:400].astype(np.int64), epochs=15, batch_size=32, verbose=0)

    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(tokens[:64], labels[:64], batch_size=32),
        eval_func=lambda m: accuracy(m, tokens[400:], labels[400:]),
        config={
            **_config(tmp_path),
            "tuning": {**_config(tmp_path)["tuning"], "accuracy_criterion": {"absolute": 0.02}},
        },
        progress=False,
    )
    assert result.status == "met" and result.baseline_accuracy > 0.85
    assert isinstance(result.model, TFLiteModel)
    assert {"fc", "head"} <= int8_ops(result.model)
    assert result.model.feeds(tokens[:3].astype(np.int64))["tokens"].dtype == np.int32
    np.testing.assert_allclose(result.model(tokens[:50]), model.predict(tokens[:50], verbose=0), atol=0.3)


def test_two_input_model_calibrates_each_input_by_name(tmp_path):
    """TFLite orders these inputs [b, a]: calibration and the result take them by name."""
    import keras

    keras.utils.set_random_seed(0)
    a, b = keras.Input((16,), name="a"), keras.Input((4, 4, 2), name="b")
    image = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, padding="same", name="conv")(b))
    joined = keras.layers.Concatenate()([image, keras.layers.Dense(8, name="fa")(a)])
    model = keras.Model([a, b], keras.layers.Dense(3, name="head")(joined))
    rng = np.random.default_rng(0)
    xa, xb = (
        rng.standard_normal((64, 16)).astype(np.float32),
        rng.standard_normal((64, 4, 4, 2)).astype(np.float32),
    )
    reference = model.predict({"a": xa, "b": xb}, verbose=0)
    result = lpot.tune(
        model,
        q_dataloader=[({"a": xa[i : i + 16], "b": xb[i : i + 16]}, None) for i in range(0, 64, 16)],
        eval_func=lambda m: (
            -float(np.abs(np.asarray(m.predict({"a": xa, "b": xb}, verbose=0)) - reference).max())
        ),
        config={
            **_config(tmp_path),
            "tuning": {**_config(tmp_path)["tuning"], "accuracy_criterion": {"absolute": 0.25}},
        },
        progress=False,
    )
    assert result.status == "met"
    assert int8_ops(result.model) == {"conv", "fa", "head"}
    np.testing.assert_allclose(
        result.model([xa, xb]), result.model({"b": xb, "a": xa})
    )  # list in model.inputs order
    assert np.abs(result.model({"a": xa, "b": xb}) - reference).max() < 0.1 * np.abs(reference).max()
