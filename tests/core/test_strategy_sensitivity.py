"""sensitivity: groups of ops fall back and bisect, then ops go back to INT8 while the goal holds."""

from __future__ import annotations

import math

import pytest
from strategy_driver import start
from test_strategy_common import fp32_names, known_answer_model, labels, recipes, resume_equivalence, tune

from lpot.errors import ConfigError
from lpot.recipe import Capability, OpKey
from lpot.space import build_space
from lpot.strategies.sensitivity import SensitivityStrategy
from lpot.trial import Trial
from lpot_toy.engine import CAPABILITY

# isolated ranking puts fc3 and fc6 first: default, top 1 (fails), top 2 (meets), fc3 back (fails).
KNOWN_ANSWER_TRIALS = 4


def test_finds_exactly_the_bad_ops_in_few_trials(tmp_path):
    result = tune(tmp_path, "sensitivity")
    assert result.status == "met"
    assert len(result.trials) == KNOWN_ANSWER_TRIALS
    assert fp32_names(result.recipe) == ["fc3", "fc6"]
    assert labels(result)[:3] == ["model-wise default", "fallback top 1/8", "fallback top 2/8"]
    assert result.stop_reason.startswith(
        "trial 3 met the goal, then the strategy refined it; 2 of 8 ops kept"
    )


def test_fewer_trials_than_basic_on_16_ops_with_2_bad(tmp_path):
    def model():
        return known_answer_model(n=16, bad=("fc5", "fc12"))

    basic = tune(tmp_path / "basic", "basic", model=model(), one_config=False)
    runs = {
        ranking: tune(
            tmp_path / ranking, "sensitivity", model=model(), one_config=False, params={"ranking": ranking}
        )
        for ranking in ("isolated", "none")
    }
    assert basic.status == "met" and len(basic.trials) >= 17  # measured: 32
    for ranking, result in runs.items():
        assert result.status == "met", ranking
        assert fp32_names(result.recipe) == ["fc12", "fc5"], ranking
    stage = [label for label in labels(basic) if label.startswith("model-wise")]
    for result in runs.values():  # the same model-wise stage as basic's comes first
        assert labels(result)[: len(stage)] == stage
    assert len(runs["isolated"].trials) == len(stage) + 3
    # no ranking at all: all-FP32, then about k·log2(n) re-quantization trials (measured 11)
    assert len(runs["none"].trials) <= len(stage) + 1 + 2 * (math.log2(16) + 1)
    assert len(runs["none"].trials) - len(stage) < (len(basic.trials) - len(stage)) / 2  # op-wise


def test_deterministic(tmp_path):
    kwargs = {"params": {"ranking": "none"}}
    assert recipes(tune(tmp_path / "a", "sensitivity", **kwargs)) == recipes(
        tune(tmp_path / "b", "sensitivity", **kwargs)
    )


@pytest.mark.parametrize(("ranking", "cut"), [("isolated", 3), ("none", 5)])
def test_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path, ranking, cut):
    """Cut after the first recipe that met the goal, in the middle of re-quantization."""
    resume_equivalence(tmp_path, "sensitivity", cut=cut, params={"ranking": ranking})


def test_an_unknown_ranking_is_a_config_error():
    with pytest.raises(ConfigError, match="ranking"):
        SensitivityStrategy(ranking="magic")


# --- the search itself, driven through the ask/tell protocol with a scripted accuracy -----------

OPS = [OpKey(f"op{i}", "Dense") for i in range(32)]


def _space():
    cap = Capability(opwise={op: CAPABILITY for op in OPS})
    return build_space(cap, approach="post_training_static_quant")


def _drive(strategy, bad, limit=200):
    """Accuracy 1.0 unless a ``bad`` op is INT8; run to the end (refinement included)."""
    tried = []
    for index in range(1, limit):
        recipe = strategy.propose()
        if recipe is None:
            return tried
        met = not any(recipe.op(OpKey(name, "Dense")).is_quantized for name in bad)
        tried.append(recipe)
        strategy.observe(
            Trial(index=index, recipe=recipe, label=strategy.label, accuracy=1.0 if met else 0.0, met=met)
        )
    raise AssertionError("the search did not end")


@pytest.mark.parametrize(
    "bad", [("op0",), ("op31",), ("op3", "op17"), ("op1", "op2", "op3"), ("op5", "op13", "op21", "op29")]
)
def test_without_ranking_k_needed_ops_cost_about_k_log2_n_trials(bad):
    strategy = SensitivityStrategy(ranking="none", model_wise=False)
    strategy = start(strategy, _space())
    tried = _drive(strategy, bad)
    met = [r for r in tried if not any(r.op(OpKey(b, "Dense")).is_quantized for b in bad)]
    assert sorted(op.name for op in met[-1].fp32_ops()) == sorted(bad)
    assert len(tried) <= 1 + len(bad) * (math.log2(len(OPS)) + 1) + 1
    assert len(tried) < len(OPS)


def test_requantize_false_keeps_the_bisected_prefix():
    strategy = SensitivityStrategy(ranking="none", requantize=False, model_wise=False)
    strategy = start(strategy, _space())
    tried = _drive(strategy, ("op3",))
    assert len(tried) == 2 and len(tried[-1].fp32_ops()) == len(OPS)


@pytest.mark.parametrize("ranking", ["none", "fallback"])
def test_a_goal_not_even_fp32_meets_ends_exhausted_with_its_reason(ranking):
    strategy = SensitivityStrategy(ranking=ranking)
    strategy = start(strategy, _space())
    tried = []
    for index in range(1, 200):
        recipe = strategy.propose()
        if recipe is None:
            break
        tried.append(recipe)
        strategy.observe(Trial(index=index, recipe=recipe, label=strategy.label, accuracy=0.0, met=False))
    assert strategy.stop_reason == f"the goal is not met even with all {len(OPS)} tunable ops in FP32"
    assert len(tried[-1].fp32_ops()) == len(OPS)
