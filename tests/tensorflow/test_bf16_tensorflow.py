"""The keras_bf16 family: offered only with native BF16, ops in bfloat16 except those falling back."""

from __future__ import annotations

import numpy as np
import pytest

import lpot
from conformance.suite import quantize
from lpot.isa import CpuFeatures, cpu_features
from lpot.space import build_space
from lpot_tensorflow.mixed_precision import bf16_layers
from lpot_tensorflow.runtime import TFLiteModel
from models import accuracy
from probes import tf_backend

native = pytest.mark.skipif(
    not cpu_features().fast_bf16, reason="no native BF16 on this CPU: keras_bf16 is not offered"
)


def test_offered_only_where_bf16_is_native(digits, monkeypatch):
    backend = tf_backend()
    formats = backend.capability(digits[0]).options["format"]
    assert ("keras_bf16" in formats) == cpu_features().fast_bf16
    monkeypatch.setattr(
        "lpot_tensorflow.mixed_precision.cpu_features", lambda: CpuFeatures(avx2=True, avx512=True)
    )
    assert "keras_bf16" not in backend.capability(digits[0]).options["format"]


@native
def test_bf16_recipe_keeps_fallback_layers_fp32(digits):
    model, (_, _, x_val, y_val) = digits
    backend = tf_backend()
    space = build_space(backend.capability(model), approach="post_training_static_quant")
    base = space.default_recipe()
    recipe = base.fallback([k for k in base.ops if k.name.endswith("conv2")])
    recipe = type(recipe)(
        approach=recipe.approach,
        ops=recipe.ops,
        calib_sampling_size=recipe.calib_sampling_size,
        options={**recipe.options, "format": "keras_bf16"},
    )
    bf16 = quantize(backend, model, recipe, {})
    names = {k.name.rsplit("/", 1)[-1] for k in recipe.quantized_ops()}
    output = model.layers[-1].name
    assert bf16_layers(bf16) == names - {output}  # the output layer stays float32 for the caller
    assert "conv2" not in bf16_layers(bf16)
    ref, got = model.predict(x_val, verbose=0), bf16.predict(x_val, verbose=0)
    assert got.dtype == np.float32
    assert float(np.mean(ref.argmax(-1) == got.argmax(-1))) >= 0.98
    assert accuracy(bf16, x_val, y_val) >= accuracy(model, x_val, y_val) - 0.01


@native
def test_tuning_picks_bf16_when_int8_cannot_meet_the_goal(digits, tmp_path):
    model, (x, y, x_val, y_val) = digits

    def no_int8(m):  # a model that cannot take INT8 at all: TFLite results score 0
        return 0.0 if isinstance(m, TFLiteModel) else accuracy(m, x_val, y_val)

    result = lpot.tune(
        model,
        q_dataloader=lpot.ArrayLoader(x[:32], y[:32], batch_size=16),
        eval_func=no_int8,
        config={"tuning": {"workspace": {"path": str(tmp_path)}, "exit_policy": {"max_trials": 30}}},
        progress=False,
    )
    assert result.status == "met"
    assert result.recipe.options["format"] == "keras_bf16"
    assert result.trials[-1].label.startswith("last resort")  # after op-wise fallback, before all-FP32
    assert bf16_layers(result.model)
