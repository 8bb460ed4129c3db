from __future__ import annotations

from lpot.recipe import FP32_OP, OpCapability, OpConfig, OpKey, Recipe, TensorChoices, TensorConfig

INT8 = OpConfig(
    activation=TensorConfig(dtype="uint8", scheme="asym", algorithm="kl"),
    weight=TensorConfig(dtype="int8", scheme="sym", granularity="per_channel"),
)


def test_recipe_json_round_trip_and_fingerprint():
    recipe = Recipe(
        ops={OpKey("conv1", "Conv"): INT8, OpKey("fc", "Gemm"): FP32_OP},
        calib_sampling_size=300,
        options={"format": "qdq", "reduce_range": False},
    )
    again = Recipe.from_json(recipe.to_json())
    assert again == recipe
    assert again.fingerprint() == recipe.fingerprint()
    assert recipe.quantized_ops() == [OpKey("conv1", "Conv")]
    assert recipe.fp32_ops() == [OpKey("fc", "Gemm")]
    assert recipe.calibration_algorithms() == {"kl"}
    assert recipe.fallback([OpKey("conv1", "Conv")]).fingerprint() != recipe.fingerprint()


def test_dynamic_recipes_need_no_calibration():
    recipe = Recipe(approach="post_training_dynamic_quant", ops={OpKey("fc", "MatMul"): INT8})
    assert recipe.calibration_algorithms() == set()


def test_capability_expands_defaults_first_and_skips_fp32():
    cap = OpCapability(
        activation=TensorChoices(dtype=("uint8", "fp32"), scheme=("asym", "sym"), algorithm=("minmax",)),
        weight=TensorChoices(dtype=("int8",), granularity=("per_channel", "per_tensor")),
    )
    configs = cap.configs()
    assert len(configs) == 4
    assert cap.default() == configs[0]
    assert configs[0].activation.scheme == "asym" and configs[0].weight.granularity == "per_channel"
    assert all(c.is_quantized for c in configs)
    assert cap.to_dict()["activation"]["dtype"] == ["uint8", "fp32"]
