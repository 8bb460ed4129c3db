"""random: the default recipe, then seeded uniform draws, never the same recipe twice."""

from __future__ import annotations

import pytest
from test_strategy_common import fp32_names, known_answer_model, recipes, resume_equivalence, tune

from lpot.errors import ConfigError
from lpot.strategies.random import RandomStrategy
from lpot_toy.model import MLP

BOUND = 20  # measured: 14 trials with seed 1978 (a quarter of the 256 recipes meet the goal)


def test_finds_the_two_bad_ops_within_the_bound(tmp_path):
    result = tune(tmp_path, "random")
    assert result.status == "met" and result.stop_reason == f"trial {len(result.trials)} met the goal"
    assert len(result.trials) <= BOUND
    assert {"fc3", "fc6"} <= set(fp32_names(result.recipe))
    assert result.trials[0].label == "default"
    assert len(set(recipes(result))) == len(result.trials)  # never twice


def test_deterministic_with_a_seed_and_different_with_another(tmp_path):
    first = tune(tmp_path / "a", "random")
    second = tune(tmp_path / "b", "random")
    assert recipes(first) == recipes(second)
    other = tune(tmp_path / "c", "random", random_seed=7)
    assert recipes(other)[1:4] != recipes(first)[1:4]


def test_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path):
    resume_equivalence(tmp_path, "random", cut=5)


def test_a_small_space_is_exhausted_and_says_so(tmp_path):
    def never(model):  # only FP32 itself meets the goal
        return 1.0 if isinstance(model, MLP) else 0.0

    result = tune(tmp_path, "random", evaluate=never, model=known_answer_model(n=3, bad=()))
    assert result.status == "exhausted"
    assert result.stop_reason == "space exhausted: all 8 recipes tried"
    assert len(set(recipes(result))) == len(result.trials) == 8


def test_fallback_probability_steers_the_draws(tmp_path):
    result = tune(
        tmp_path,
        "random",
        params={"fallback_probability": 0.9},
        exit_policy={"timeout": 3600, "max_trials": 6},
    )
    drawn = [t.recipe for t in result.trials[1:]]
    assert sum(len(r.fp32_ops()) for r in drawn) >= 0.7 * 8 * len(drawn)
    with pytest.raises(ConfigError, match="fallback_probability"):
        RandomStrategy(fallback_probability=1.5)
