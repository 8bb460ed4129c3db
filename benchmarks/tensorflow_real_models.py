"""Speed parity on the zoo, TensorFlow: lpot's tuned EfficientNet-Lite0 vs TFLite's own INT8 path.

Issue 17, deliverable 7: lpot's tuned model should run at >= 0.95x the speed of the best hand-made
INT8 path of the framework at equal or better accuracy. Model: the zoo's Keras 3 rebuild of
EfficientNet-Lite0 with its real ImageNet weights (``lpot_zoo.keras_efficientnet``); data: crops of
real photographs, calibration on one set of crops and the metric (top-1 agreement with FP32) on
another. Rows: FP32 Keras, FP32 TFLite, TFLite full-integer post-training quantization by hand
(``TFLiteConverter`` with a representative dataset, ``TFLITE_BUILTINS_INT8``, float in/out) run by
the LiteRT interpreter, and ``lpot.tune`` (basic, relative 1 % goal, a small trial budget), all
TFLite models on 2 threads. Every model runs the evaluation first, then all are timed in
interleaved rounds at batch 1 and 16 (median of the rounds' medians; spread = slowest / fastest).

Run: ``nox -s bench_tensorflow -- --quick`` (or ``python benchmarks/tensorflow_real_models.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np  # noqa: E402
from _zoo_timing import interleaved, load_average, parity_rows, print_table, tune_as_user  # noqa: E402

THREADS = 2


class Interpreted:
    """A ``.tflite`` flatbuffer run as one would by hand: the LiteRT interpreter, set/invoke/get,
    re-planned only when the batch size changes."""

    def __init__(self, content: bytes) -> None:
        from lpot_tensorflow.runtime import interpreter_class

        self.content = content
        self.interpreter = interpreter_class()(model_content=content, num_threads=THREADS)
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.output = self.interpreter.get_output_details()[0]["index"]
        self.batch = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if len(x) != self.batch:
            self.interpreter.resize_tensor_input(self.input, list(x.shape))
            self.interpreter.allocate_tensors()
            self.batch = len(x)
        self.interpreter.set_tensor(self.input, np.ascontiguousarray(x, dtype=np.float32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output)


def convert(model: Any, calib: np.ndarray | None) -> bytes:
    """FP32 TFLite (``calib`` None) or TFLite's full-integer INT8 post-training quantization."""
    import tensorflow as tf

    from lpot_tensorflow.tflite import _quiet_tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if calib is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([calib[i : i + 1]] for i in range(len(calib)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    with _quiet_tf():
        return converter.convert()


def tuned(model: Any, calib: Any, score: Callable[[Any], float], budget: int, work: Path) -> tuple[Any, str]:
    result, note = tune_as_user(model, "tensorflow", calib, score, budget, work)
    return result.model, note


def _batched(predict: Callable[[np.ndarray], Any], x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(predict(x[i : i + 16])) for i in range(0, len(x), 16)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer crops and rounds (a smoke run)")
    parser.add_argument("--max-trials", type=int, default=8)
    args = parser.parse_args()
    from lpot_zoo.agreement import top1, top1_agreement
    from lpot_zoo.batches import batched
    from lpot_zoo.keras_efficientnet import build_keras_efficientnet_lite0
    from lpot_zoo.photos import photo_array

    count, rounds = (32, 5) if args.quick else (64, 9)
    calib_x, eval_x = photo_array(32, "nhwc", seed=0), photo_array(count, "nhwc", seed=1)
    model = build_keras_efficientnet_lite0()
    keras_call = lambda x: model(x, training=False)  # noqa: E731 - what a Keras user calls
    labels = top1(_batched(lambda x: np.asarray(keras_call(x)), eval_x))

    def score(m: Any) -> float:
        return top1_agreement(_batched(m, eval_x), labels)

    start = time.perf_counter()
    hand = Interpreted(convert(model, calib_x))
    hand_s = time.perf_counter() - start
    models: dict[str, Any] = {"FP32 Keras": keras_call, "FP32 TFLite": Interpreted(convert(model, None))}
    models["TFLite full-integer PTQ"] = hand
    notes = {
        "FP32 Keras": "model(x, training=False)",
        "FP32 TFLite": f"LiteRT, {THREADS} threads",
        "TFLite full-integer PTQ": f"32 representative crops, LiteRT, {THREADS} threads, {hand_s:.0f} s",
    }
    with tempfile.TemporaryDirectory(prefix="lpot-bench-tf-") as tmp:
        models["lpot basic"], notes["lpot basic"] = tuned(
            model, batched(calib_x, None, 16), score, args.max_trials, Path(tmp)
        )
    lpot_model = models["lpot basic"]
    notes["lpot basic"] += f"; lpot's TFLiteModel, {getattr(lpot_model, 'num_threads', '?')} threads"
    if hasattr(lpot_model, "content"):  # the same graph without lpot's wrapper: where a gap comes from
        models["lpot graph, run by hand"] = Interpreted(lpot_model.content)
        notes["lpot graph, run by hand"] = f"lpot's .tflite in the hand-made runner, {THREADS} threads"
    metrics = {name: score(m) for name, m in models.items()}  # every model has run the evaluation
    load_before = load_average()
    calls = dict(models)  # each is called on a batch: Keras eagerly, TFLite through its runner
    timings = {b: interleaved(calls, eval_x[:b], rounds) for b in (1, 16)}
    rows = parity_rows(
        models, metrics, timings, notes, "FP32 Keras", "lpot basic", ("TFLite full-integer PTQ",)
    )
    print_table(
        "EfficientNet-Lite0 (Keras 3 rebuild), TensorFlow / LiteRT", rows, load_before, load_average()
    )


if __name__ == "__main__":
    main()
