"""The basic strategy's order: model-wise, op-wise fallback ranked by sensitivity, accumulated."""

from __future__ import annotations

from strategy_driver import start

from lpot.recipe import Capability, OpCapability, OpKey, TensorChoices
from lpot.space import build_space
from lpot.strategies.basic import BasicStrategy
from lpot.trial import Trial

OPS = [OpKey(f"op{i}", "Conv") for i in range(4)]
CAP = OpCapability(
    activation=TensorChoices(dtype=("uint8", "fp32"), scheme=("asym", "sym"), algorithm=("minmax", "kl")),
    weight=TensorChoices(dtype=("int8",), scheme=("sym",), granularity=("per_channel", "per_tensor")),
)


def _space(**kwargs):
    capability = Capability(opwise={op: CAP for op in OPS}, options={"format": ("qdq", "qoperator")})
    return build_space(capability, approach="post_training_static_quant", **kwargs)


def _drive(strategy, accuracy_of, goal=0.99, limit=100):
    """Run the ask/tell protocol with a scripted accuracy function; return (label, recipe) tried."""
    tried = []
    for index in range(1, limit):
        recipe = strategy.propose()
        if recipe is None:
            break
        acc = accuracy_of(recipe)
        tried.append((strategy.label, recipe))
        strategy.observe(
            Trial(index=index, recipe=recipe, label=strategy.label, accuracy=acc, met=acc >= goal)
        )
        if acc >= goal:
            break
    return tried


def test_model_wise_dimensions_one_at_a_time_then_stop_on_success():
    strategy = BasicStrategy()
    strategy = start(strategy, _space(sampling_sizes=(100, 300)))
    tried = _drive(strategy, lambda r: 0.5)
    labels = [label for label, _ in tried[:7]]
    assert labels == [
        "model-wise default",
        "model-wise activation algorithm=kl",
        "model-wise activation scheme=sym",
        "model-wise weight granularity=per_tensor",
        "model-wise format=qoperator",
        "model-wise sampling_size=300",
        "fallback op0",
    ]
    default = tried[0][1]
    assert all(default.op(op).activation.algorithm == "minmax" for op in OPS)
    assert all(tried[1][1].op(op).activation.algorithm == "kl" for op in OPS)
    assert tried[5][1].calib_sampling_size == 300


def test_fallback_ranks_ops_by_sensitivity_and_accumulates():
    # op2 and op0 hurt; op2 most. Accuracy: 1.0 minus penalties of quantized sensitive ops.
    penalty = {"op0": 0.1, "op2": 0.3}

    def accuracy(recipe):
        return 1.0 - sum(p for name, p in penalty.items() if recipe.op(OpKey(name, "Conv")).is_quantized)

    strategy = BasicStrategy(model_wise=False)
    strategy = start(strategy, _space())
    tried = _drive(strategy, accuracy)
    labels = [label for label, _ in tried]
    assert labels[:5] == [
        "model-wise default",
        "fallback op0",
        "fallback op1",
        "fallback op2",
        "fallback op3",
    ]
    last = tried[-1][1]
    assert labels[-1] == "accumulated fallback 2/4 (op0)"
    assert sorted(op.name for op in last.fp32_ops()) == ["op0", "op2"]


def test_lower_is_better_accuracy_is_oriented():
    def error(recipe):  # lower is better; op1 is the sensitive one
        return 0.5 if recipe.op(OpKey("op1", "Conv")).is_quantized else 0.0

    strategy = BasicStrategy(model_wise=False)
    strategy = start(strategy, _space(), higher_is_better=False)
    tried = []
    for index in range(1, 20):
        recipe = strategy.propose()
        if recipe is None:
            break
        err = error(recipe)
        tried.append(recipe)
        strategy.observe(
            Trial(index=index, recipe=recipe, label=strategy.label, accuracy=err, met=err <= 0.01)
        )
        if err <= 0.01:
            break
    assert [op.name for op in tried[-1].fp32_ops()] == ["op1"]


def test_exhausted_search_returns_none():
    strategy = BasicStrategy(model_wise=False)
    strategy = start(strategy, _space())
    tried = _drive(strategy, lambda r: 0.0)
    assert strategy.propose() is None
    assert len(tried) == 1 + 4 + 3  # default, 4 single fallbacks, accumulated 2..4


def test_user_rules_narrow_the_space():
    space = _space(
        model_wise={"activation": {"algorithm": ["kl"]}}, op_wise={"op3": {"activation": {"dtype": ["fp32"]}}}
    )
    default = space.default_recipe()
    assert default.op(OPS[0]).activation.algorithm == "kl"
    assert not default.op(OPS[3]).is_quantized
    assert space.tunable_ops == tuple(OPS[:3])
