"""bayesian: Gaussian-process search (bayesian-optimization) over the recipe grid, seeded, resumable."""

from __future__ import annotations

from test_strategy_common import fp32_names, labels, recipes, resume_equivalence, tune

BOUND = 12  # measured: 6 trials (default, 3 random, 2 suggested) with seed 1978


def test_finds_the_two_bad_ops_within_the_bound(tmp_path):
    result = tune(tmp_path, "bayesian")
    assert result.status == "met"
    assert len(result.trials) <= BOUND
    assert {"fc3", "fc6"} <= set(fp32_names(result.recipe))
    assert labels(result)[0] == "bayesian 1 default (0 fp32)"
    assert any("suggested" in label for label in labels(result))
    assert len(set(recipes(result))) == len(result.trials)


def test_deterministic_with_a_seed(tmp_path):
    assert recipes(tune(tmp_path / "a", "bayesian")) == recipes(tune(tmp_path / "b", "bayesian"))


def test_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path):
    resume_equivalence(tmp_path, "bayesian", cut=4)


def test_budget_mode_improves_the_int8_share(tmp_path):
    """With a time budget it keeps searching; the best met recipe keeps at least as many ops INT8."""
    first = tune(tmp_path / "a", "bayesian")
    budget = tune(tmp_path / "b", "bayesian", exit_policy={"timeout": 3600, "max_trials": 16})
    assert budget.status == "met"
    assert len(budget.recipe.fp32_ops()) <= len(first.recipe.fp32_ops())
