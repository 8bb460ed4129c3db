"""basic, mse and sensitivity share one model-wise stage, and fall back ops from its best recipe.

Driven through ask/tell with a scripted accuracy: a model-wise setting (per-tensor weights) that
helps or rescues the model must be found before any op leaves INT8 (EfficientNet-Lite0 on ORT
needs reduce_range + bias correction; sensitivity used to skip them and fall back every op).
"""

from __future__ import annotations

import pytest
from strategy_driver import start

from lpot.recipe import Capability, OpKey
from lpot.space import build_space
from lpot.strategies.basic import BasicStrategy
from lpot.strategies.mse import MseStrategy
from lpot.strategies.sensitivity import SensitivityStrategy
from lpot.trial import Trial
from lpot_toy.engine import CAPABILITY

OPS = [OpKey(f"op{i}", "Dense") for i in range(8)]
BAD = OpKey("op5", "Dense")
STRATEGIES = {
    "basic": BasicStrategy,
    "mse": MseStrategy,
    "sensitivity": lambda: SensitivityStrategy(ranking="none"),
}


def _per_tensor(recipe):
    quantized = recipe.quantized_ops()
    return bool(quantized) and all(recipe.op(op).weight.granularity == "per_tensor" for op in quantized)


def _partial_help(recipe):
    """Only FP32 for op5 meets the goal; per-tensor weights help but are not enough."""
    if not recipe.op(BAD).is_quantized:
        return 1.0
    return 0.6 if _per_tensor(recipe) else 0.3


def _rescue(recipe):
    """Per-tensor weights alone meet the goal."""
    return 1.0 if _per_tensor(recipe) or not recipe.op(BAD).is_quantized else 0.3


def _run(name, accuracy_of, limit=100):
    space = build_space(
        Capability(opwise={op: CAPABILITY for op in OPS}), approach="post_training_static_quant"
    )
    strategy = start(STRATEGIES[name](), space)
    tried = []
    for index in range(1, limit):
        recipe = strategy.propose()
        if recipe is None:
            return tried
        accuracy = accuracy_of(recipe)
        tried.append((strategy.label, recipe))
        strategy.observe(
            Trial(index=index, recipe=recipe, label=strategy.label, accuracy=accuracy, met=accuracy >= 0.99)
        )
        if accuracy >= 0.99 and name != "sensitivity":
            return tried  # the loop stops at the first met trial for strategies that do not refine
    raise AssertionError("the search did not end")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_op_wise_fallback_starts_from_the_best_model_wise_recipe(name):
    tried = _run(name, _partial_help)
    stage = [label for label, _ in tried if label.startswith("model-wise")]
    assert stage[0] == "model-wise default" and "model-wise weight granularity=per_tensor" in stage
    op_wise = [recipe for label, recipe in tried if not label.startswith("model-wise")]
    assert op_wise, "the stage cannot meet this goal: ops must fall back"
    assert all(_per_tensor(recipe) for recipe in op_wise if recipe.quantized_ops())
    assert BAD in tried[-1][1].fp32_ops() and len(tried[-1][1].quantized_ops()) >= 1


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_a_model_wise_setting_that_meets_the_goal_keeps_every_op_int8(name):
    tried = _run(name, _rescue)
    assert all(label.startswith("model-wise") for label, _ in tried)
    assert any(_per_tensor(recipe) for _, recipe in tried)
    assert all(not recipe.fp32_ops() for _, recipe in tried)


@pytest.mark.parametrize("name", ["mse", "sensitivity"])
def test_the_stage_can_be_turned_off(name):
    space = build_space(
        Capability(opwise={op: CAPABILITY for op in OPS}), approach="post_training_static_quant"
    )
    strategy = start({"mse": MseStrategy, "sensitivity": SensitivityStrategy}[name](model_wise=False), space)
    recipe = strategy.propose()
    strategy.observe(Trial(index=1, recipe=recipe, label=strategy.label, accuracy=0.3, met=False))
    assert strategy.propose() is not None and not strategy.label.startswith("model-wise")


def _interacting(recipe):
    """Per-tensor weights help most, sym activations add to them, percentile helps alone but ruins
    the other two (all three together are worse than the default)."""
    if not recipe.op(BAD).is_quantized:
        return 1.0
    config = recipe.op(BAD)
    key = (
        config.weight.granularity == "per_tensor",
        config.activation.scheme == "sym",
        config.activation.algorithm == "percentile",
    )
    table = {(True, False, False): 0.6, (False, True, False): 0.5, (False, False, True): 0.4}
    table |= {(True, True, False): 0.7, (True, True, True): 0.2, (True, False, True): 0.2}
    return table.get(key, 0.3)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_helpful_settings_are_combined_greedily_and_a_harmful_one_is_left_out(name):
    tried = _run(name, _interacting)
    combined = [label for label, _ in tried if label.startswith("model-wise combined")]
    assert combined == [
        "model-wise combined weight granularity=per_tensor, activation scheme=sym",
        "model-wise combined weight granularity=per_tensor, activation scheme=sym, activation algorithm=percentile",
    ]
    op_wise = [r for label, r in tried if not label.startswith("model-wise") and r.quantized_ops()]
    assert op_wise
    for recipe in op_wise:  # every fallback starts from per-tensor + sym, without percentile
        config = recipe.op(recipe.quantized_ops()[0])
        assert (config.weight.granularity, config.activation.scheme) == ("per_tensor", "sym")
        assert config.activation.algorithm != "percentile"


@pytest.mark.parametrize(
    "strategy", [SensitivityStrategy(), MseStrategy(ranking="isolated")], ids=["sens", "mse"]
)
def test_isolated_inspections_use_the_default_options_and_fallbacks_the_best_ones(strategy):
    """Bias correction helps model-wise but costs a pass per quantization: ranking ops one by one
    under it (50 passes on EfficientNet-Lite0) took longer than the whole tuning had."""
    capability = Capability(opwise={op: CAPABILITY for op in OPS}, options={"bias_correction": (False, True)})
    space = build_space(capability, approach="post_training_static_quant")
    inspected = []

    def inspect(recipe):
        inspected.append(recipe)
        return {op.name: (1.0 if op == BAD else 0.01) for op in recipe.quantized_ops()}

    driver = start(strategy, space, inspect=inspect)
    fallbacks = []
    for index in range(1, 100):
        recipe = driver.propose()
        if recipe is None:
            break
        if not driver.label.startswith("model-wise"):
            fallbacks.append(recipe)
        accuracy = (
            1.0 if not recipe.op(BAD).is_quantized else (0.6 if recipe.options["bias_correction"] else 0.3)
        )
        met = accuracy >= 0.99
        driver.observe(Trial(index=index, recipe=recipe, label=driver.label, accuracy=accuracy, met=met))
        if met and strategy.name == "mse":
            break
    assert len(inspected) == len(OPS) and not any(r.options["bias_correction"] for r in inspected)
    assert fallbacks and all(r.options["bias_correction"] for r in fallbacks)
    assert fallbacks[0].fp32_ops() == [BAD]  # the ranking found it first
