"""exhaustive: every recipe, fewest FP32 ops first; a space too large to enumerate is refused."""

from __future__ import annotations

import pytest
from test_strategy_common import fp32_names, labels, recipes, resume_equivalence, tune

from lpot.errors import ConfigError

# 1 all-INT8 + 8 with one op FP32 + 16 pairs in combinations order up to (fc3, fc6): exactly 25.
EXPECTED_TRIALS = 25


def test_first_recipe_meeting_the_goal_keeps_the_most_ops_int8(tmp_path):
    result = tune(tmp_path, "exhaustive")
    assert result.status == "met"
    assert len(result.trials) == EXPECTED_TRIALS
    assert fp32_names(result.recipe) == ["fc3", "fc6"]
    counts = [len(t.recipe.fp32_ops()) for t in result.trials]
    assert counts == sorted(counts) and counts[:2] == [0, 1]
    assert [op.name for op in result.trials[9].recipe.fp32_ops()] == ["fc1", "fc2"]


def test_deterministic(tmp_path):
    assert recipes(tune(tmp_path / "a", "exhaustive")) == recipes(tune(tmp_path / "b", "exhaustive"))


def test_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path):
    resume_equivalence(tmp_path, "exhaustive", cut=10)


def test_an_astronomical_space_is_refused_before_any_trial(tmp_path):
    with pytest.raises(ConfigError, match=r"would enumerate 6,975,757,441 recipes .*params\.limit: 0"):
        tune(tmp_path, "exhaustive", one_config=False)  # 17 choices for each of 8 ops


def test_limit_zero_enumerates_in_order_until_the_exit_policy(tmp_path):
    result = tune(
        tmp_path,
        "exhaustive",
        one_config=False,
        params={"limit": 0},
        exit_policy={"timeout": 0, "max_trials": 3},
    )
    assert result.status == "budget_spent" and len(result.trials) == 3
    assert labels(result)[0] == "exhaustive 1/6975757441 (0 fp32)"
    first, second = result.trials[0].recipe, result.trials[1].recipe
    changed = [op.name for op in first.ops if first.op(op) != second.op(op)]
    assert changed == ["fc8"]  # the last op varies fastest
