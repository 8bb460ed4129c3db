"""TensorFlow/Keras 3: FP32 Keras vs FP32 TFLite vs lpot INT8 (TFLite) vs Keras int8, side by side.

Models: a ResNet-18-shaped Keras net (random init, 224x224, batch 1 and 16) and a small Keras
transformer encoder (4 layers, d=256, seq 128). Latency is the median of interleaved rounds (every
variant timed in turn, so drift hits all alike); size is bytes as deployed (.tflite file, Keras
weight payload). The ResNet is also exported as a SavedModel and tuned from the folder (FP32 run by
TensorFlow through its signature, INT8 per TFLite op). Then lpot.tune is run per objective to show
which recipe family it picks.

    nox -s bench_tensorflow            # or: python benchmarks/tensorflow_int8.py --quick
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def resnet18(input_shape=(224, 224, 3), classes=1000):
    import keras
    from keras import layers

    def block(x, filters, stride):
        shortcut = x
        y = layers.Conv2D(filters, 3, stride, padding="same", use_bias=False)(x)
        y = layers.ReLU()(layers.BatchNormalization()(y))
        y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
        y = layers.BatchNormalization()(y)
        if stride != 1 or shortcut.shape[-1] != filters:
            shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, stride, use_bias=False)(x))
        return layers.ReLU()(layers.Add()([y, shortcut]))

    keras.utils.set_random_seed(0)
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(64, 7, 2, padding="same", use_bias=False)(inputs)
    x = layers.MaxPooling2D(3, 2, padding="same")(layers.ReLU()(layers.BatchNormalization()(x)))
    for filters, stride in ((64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)):
        x = block(x, filters, stride)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes)(x), name="resnet18")


def encoder(seq=128, dim=256, heads=4, depth=4, classes=4):
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    inputs = keras.Input((seq, dim))
    x = inputs
    for _ in range(depth):
        a = layers.MultiHeadAttention(heads, dim // heads)(x, x)
        x = layers.LayerNormalization()(layers.Add()([x, a]))
        f = layers.Dense(dim * 4, activation="relu")(x)
        f = layers.Dense(dim)(f)
        x = layers.LayerNormalization()(layers.Add()([x, f]))
    x = layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, layers.Dense(classes)(x), name="encoder")


def fp32_tflite(model):
    import tensorflow as tf

    from lpot_tensorflow.tflite import _quiet_tf

    with _quiet_tf():
        content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    from lpot_tensorflow.runtime import TFLiteModel

    return TFLiteModel(content)


def keras_int8(model):
    from lpot_tensorflow.keras_int8 import clone

    out = clone(model)
    out.quantize("int8")
    return out


def other_int8_ops(model, calib: np.ndarray, recipe) -> tuple[str, object]:
    """The tuned recipe with the other ``int8_ops`` value (``all``: weightless arithmetic in INT8
    too; ``weighted``: only conv/FC), built directly, to show what the default choice is worth."""
    import dataclasses

    import lpot
    from lpot import plugins
    from lpot.engine import CalibrationSpec

    backend = plugins.backend_by_name("tensorflow")
    spec = CalibrationSpec(sampling_size=len(calib))
    stats = backend.calibrate(model, lpot.ArrayLoader(calib, np.zeros(len(calib)), batch_size=4), spec)
    other = "weighted" if recipe.options.get("int8_ops") == "all" else "all"
    flipped = dataclasses.replace(recipe, options={**recipe.options, "int8_ops": other})
    return other, backend.quantize(model, flipped, {spec.algorithm: stats}, {})


def interleaved(variants: dict, batch: np.ndarray, rounds: int, per_round: int) -> dict[str, float]:
    from lpot_tensorflow.tensors import run

    for m in variants.values():  # warm up every variant (traces, interpreter plans) first
        for _ in range(2):
            run(m, batch)
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, m in variants.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                run(m, batch)
                times[name].append((time.perf_counter() - t0) * 1000)
    return {k: statistics.median(v) for k, v in times.items()}


def tune_int8(
    model,
    calib: np.ndarray,
    evalx: np.ndarray,
    objective: str,
    workspace: Path,
    *,
    explore: bool,
    source=None,
):
    """lpot.tune on ``source`` (default ``model``; a SavedModel folder works too), judged by top-1
    agreement with the Keras ``model``."""
    import lpot
    from lpot_tensorflow.tensors import run

    reference = np.asarray(run(model, evalx)).argmax(-1)

    def agreement(m) -> float:
        return float(
            (np.asarray(m.predict(evalx, batch_size=len(evalx), verbose=0)).argmax(-1) == reference).mean()
        )

    tuning = {"workspace": {"path": str(workspace)}, "objective": objective}
    if explore:  # keep searching within the budget for the best objective, not the first recipe that passes
        tuning["exit_policy"] = {"timeout": 600, "max_trials": 3}
    return lpot.tune(
        model if source is None else source,
        q_dataloader=lpot.ArrayLoader(calib, np.zeros(len(calib)), batch_size=4),
        eval_func=agreement,
        config={"tuning": tuning},
        progress=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    args = parser.parse_args()
    rounds, per_round = (3, 3) if args.quick else (7, 5)
    from lpot import plugins
    from lpot.isa import cpu_features

    model_size = plugins.backend_by_name("tensorflow").model_size

    print(f"CPU: {cpu_features().describe()}; {len(os.sched_getaffinity(0))} cores")
    rng = np.random.default_rng(0)
    rows = []
    picks = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, build, shape, batches in (
            ("ResNet-18 224x224", resnet18, (224, 224, 3), (1, 16)),
            ("Transformer encoder (4x256, seq 128)", encoder, (128, 256), (1, 16)),
        ):
            model = build()
            calib = rng.standard_normal((16, *shape)).astype(np.float32)
            evalx = rng.standard_normal((16, *shape)).astype(np.float32)
            t0 = time.monotonic()
            result = tune_int8(
                model, calib, evalx, "performance", Path(tmp) / f"{name[:4]}-perf", explore=False
            )
            tune_s = time.monotonic() - t0
            variants = {
                "FP32 Keras": model,
                "FP32 TFLite": fp32_tflite(model),
                f"lpot INT8 (TFLite, int8_ops={result.recipe.options.get('int8_ops')})": result.model,
                "Keras int8": keras_int8(model),
            }
            other, flipped = other_int8_ops(model, calib, result.recipe)
            variants[f"INT8 TFLite, int8_ops={other}"] = flipped
            if name.startswith("ResNet"):  # the same net handed over as a SavedModel folder
                from lpot_tensorflow.saved_model import load_saved_model

                folder = Path(tmp) / "resnet_saved_model"
                model.export(str(folder), verbose=False)
                variants["FP32 SavedModel (TF)"] = load_saved_model(folder)
                variants["lpot INT8 from SavedModel"] = tune_int8(
                    model,
                    calib,
                    evalx,
                    "performance",
                    Path(tmp) / "sm-perf",
                    explore=False,
                    source=str(folder),
                ).model
            sizes = {k: model_size(v) for k, v in variants.items()}
            for b in batches:
                x = rng.standard_normal((b, *shape)).astype(np.float32)
                lat = interleaved(variants, x, rounds, per_round)
                base = lat["FP32 Keras"]
                for k in variants:
                    rows.append((name, b, k, lat[k], base / lat[k], sizes["FP32 Keras"] / sizes[k]))
            size_pick = tune_int8(
                model, calib, evalx, "model_size", Path(tmp) / f"{name[:4]}-size", explore=True
            )
            picks.append(
                (
                    name,
                    "performance",
                    result.recipe.options.get("format"),
                    result.accuracy,
                    tune_s,
                    len(result.trials),
                )
            )
            picks.append(
                (
                    name,
                    "model_size",
                    size_pick.recipe.options.get("format"),
                    size_pick.accuracy,
                    size_pick.elapsed_s,
                    len(size_pick.trials),
                )
            )
    print(
        "\n| model | batch | variant | latency ms | speed vs FP32 Keras | size ratio (FP32 Keras / variant) |"
    )
    print("|---|---|---|---|---|---|")
    for name, b, k, ms, speed, size in rows:
        print(f"| {name} | {b} | {k} | {ms:.2f} | {speed:.2f}x | {size:.2f}x |")
    print("\n| model | objective | tuner picked | top-1 agreement | tune s | trials |")
    print("|---|---|---|---|---|---|")
    for name, obj, fmt, acc, secs, n in picks:
        print(f"| {name} | {obj} | {fmt} | {acc:.3f} | {secs:.1f} | {n} |")


if __name__ == "__main__":
    main()
