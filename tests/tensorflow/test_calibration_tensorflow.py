"""Histogram calibration (kl, percentile) for TFLite INT8: the threshold search on known
distributions, and the digits CNN calibrated on data with a few outlier pixels, where minmax
stretches every range and kl does not."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import lpot
from conformance.suite import quantize
from lpot.engine import CalibrationSpec
from lpot_tensorflow.histograms import BINS, MagnitudeHistogram
from lpot_tensorflow.recipe_builder import recipe_for
from models import accuracy
from probes import calibration_specs, tf_backend

INPUT = "serving_default_image:0"
ALL = ("conv1", "conv2", "conv3", "fc1", "fc2")
OUTLIER = 100.0  # two pixels of the 64 calibration images; real pixels lie in [0, 1]


def _range(values: np.ndarray, algorithm: str, parts: int = 7) -> tuple[float, float]:
    histogram = MagnitudeHistogram()
    for part in np.array_split(values, parts):
        histogram.add(part)
    return histogram.range(algorithm)


def test_threshold_search_on_known_distributions():
    rng = np.random.default_rng(0)
    gauss = np.concatenate([rng.normal(size=1_000_000), [50.0, -40.0]])
    low, high = _range(gauss, "kl")
    assert low == -high and 3.5 < high < 6.0  # a few sigma (MXNet's entropy kernel: 4.81), not 50
    exact = np.percentile(np.abs(gauss), 99.999)
    width = 2 * 50.0 / BINS  # the histogram's top is at most twice the largest |x|
    assert _range(gauss, "percentile")[1] == pytest.approx(exact, abs=width)
    # a ReLU's half of the values are zeros: the search must not let that spike pull it down
    relu = np.maximum(rng.normal(size=500_000), 0.0)
    low, high = _range(relu, "kl")
    assert low == 0.0 and 3.5 < high < relu.max()  # MXNet: 4.10 (int8), 4.37 (uint8)
    uniform = rng.uniform(0.0, 1.0, size=200_000)  # no tail: nothing worth clipping
    assert _range(uniform, "kl") == pytest.approx((uniform.min(), uniform.max()), abs=0.01)


def test_streaming_histogram_equals_one_counted_over_the_final_range():
    rng = np.random.default_rng(1)
    batches = [rng.normal(scale=s, size=5000) for s in (0.1, 1.0, 0.5, 30.0, 2.0)]
    histogram = MagnitudeHistogram(bins=1024)
    for batch in batches:
        histogram.add(batch)
    values = np.abs(np.concatenate(batches))
    direct = np.bincount(np.minimum((values * (1024 / histogram.top)).astype(int), 1023), minlength=1024)
    assert values.max() <= histogram.top < 2 * values.max()
    np.testing.assert_array_equal(histogram.counts, direct)  # every merge on growth was exact
    assert (histogram.low, histogram.high) == (np.concatenate(batches).min(), np.concatenate(batches).max())


@pytest.fixture(scope="module")
def outlier_calibration(digits):
    x, y = digits[1][0], digits[1][1]
    calib = x[:64].copy()
    calib[5, 3, 4, 0] = calib[40, 2, 2, 0] = OUTLIER
    return lpot.ArrayLoader(calib, y[:64], batch_size=16)


def _int8(backend, model, stats: dict, algorithm: str):
    """INT8 with the model-wise activation algorithm ``algorithm``."""
    recipe = recipe_for(model)
    return quantize(
        backend, model, replace(recipe, options={**recipe.options, "activation.algorithm": algorithm}), stats
    )


def _scale(model, tensor: str) -> float:
    """The INT8 scale a quantized TFLite model gives the tensor ``tensor``."""
    from lpot_tensorflow.runtime import interpreter_class

    details = interpreter_class()(model_content=model.content).get_tensor_details()
    return next(d["quantization"][0] for d in details if d["name"] == tensor)


def test_kl_ranges_ignore_outliers_and_its_int8_model_stays_closer_to_fp32(digits, outlier_calibration):
    model, (_, _, xv, yv) = digits
    backend = tf_backend()
    spec = CalibrationSpec(sampling_size=64)
    minmax = backend.calibrate(model, outlier_calibration, spec)
    kl = backend.calibrate(model, outlier_calibration, replace(spec, algorithm="kl"))
    assert set(kl.ranges) == set(minmax.ranges) and kl.samples_seen == minmax.samples_seen == 64
    assert minmax.ranges[INPUT] == (0.0, OUTLIER)
    assert kl.ranges[INPUT][1] < 0.1 * OUTLIER  # measured 3.1: 256 of 8192 bins, the search floor
    conv1 = next(name for name in kl.ranges if "conv1" in name)
    assert kl.ranges[conv1][1] < 0.2 * minmax.ranges[conv1][1]  # measured 3.0 vs 76
    for name, (low, high) in kl.ranges.items():  # clipped, never widened (up to float round-off)
        lo, hi = minmax.ranges[name]
        slack = 1e-5 * max(abs(lo), abs(hi))
        assert lo - slack <= low <= high <= hi + slack, name

    reference = model.predict(xv, verbose=0)
    error = {}
    for algorithm, stats in (("minmax", minmax), ("kl", kl)):
        int8 = _int8(backend, model, {algorithm: stats}, algorithm)
        error[algorithm] = float(np.abs(int8.predict(xv) - reference).mean())
        error[algorithm + " accuracy"] = accuracy(int8, xv, yv)
    # measured (seeds 0-3, oneDNN AVX2 and AMX): mean |logit error| 0.42-0.62 for kl, 1.24-1.72 for
    # minmax (kl/minmax 0.33-0.42); accuracy never lower with kl (+0.01 to +0.04)
    assert error["kl"] < 0.6 * error["minmax"], error
    assert error["kl accuracy"] >= error["minmax accuracy"], error

    conv3 = next(name for name in kl.ranges if "conv3" in name)
    assert kl.ranges[conv3][1] < 0.7 * minmax.ranges[conv3][1]  # the two differ there too (49 vs 118)


def test_tune_tries_kl_when_minmax_misses_calibrates_once_per_spec_and_resume_calibrates_never(
    tmp_path, digits, outlier_calibration
):
    """The criterion is fidelity to FP32 (mean |logit error| at most 0.9): minmax's stretched ranges
    miss it, kl's meet it (measured over seeds 0-3, oneDNN AVX2 and AMX: minmax 1.24-1.72, kl
    0.42-0.62)."""
    model, (_, _, xv, _) = digits
    reference = model.predict(xv, verbose=0)

    def fidelity(m) -> float:
        return -float(np.abs(np.asarray(m.predict(xv)) - reference).mean())

    def tune(resume: bool):
        return lpot.tune(
            model,
            q_dataloader=outlier_calibration,
            eval_func=fidelity,
            config={
                "quantization": {"calibration": {"sampling_size": 64}},
                "tuning": {
                    "workspace": {"path": str(tmp_path / "ws")},
                    "accuracy_criterion": {"absolute": 0.9},
                },
            },
            backend=tf_backend(),  # a fresh one: nothing cached from the first run
            resume=resume,
            progress=False,
        )

    first = tune(resume=False)
    assert first.status == "met"
    assert first.recipe.options["activation.algorithm"] == "kl"
    # basic's model-wise stage: the default (minmax) misses, the next algorithm (kl) meets
    assert [(t.recipe.calibration_algorithms(), t.met) for t in first.trials] == [
        ({"minmax"}, False),
        ({"kl"}, True),
    ]
    specs = calibration_specs(first.trials)
    assert first.calibration_passes == len(specs) == 2  # once per spec
    again = tune(resume=True)
    assert again.new_calibration_passes == 0 and again.calibration_passes == first.calibration_passes
    assert again.recipe == first.recipe
    assert again.model.content == first.model.content  # rebuilt from the stored kl ranges alone
