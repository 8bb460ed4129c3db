"""tpe: optuna's TPE sampler through ask/tell over the recipe grid (lpot-core[tpe]), seeded, resumable."""

from __future__ import annotations

from test_strategy_common import fp32_names, labels, recipes, resume_equivalence, tune

BOUND = 10  # measured: 2 trials with seed 1978 (n_startup_trials=5 random draws first)


def test_finds_the_two_bad_ops_within_the_bound(tmp_path):
    result = tune(tmp_path, "tpe")
    assert result.status == "met"
    assert len(result.trials) <= BOUND
    assert {"fc3", "fc6"} <= set(fp32_names(result.recipe))
    assert labels(result)[0] == "tpe 1 (0 fp32)"  # the default recipe is enqueued first


def test_deterministic_with_a_seed(tmp_path):
    kwargs = {"exit_policy": {"timeout": 3600, "max_trials": 10}}
    first = tune(tmp_path / "a", "tpe", **kwargs)
    assert len(first.trials) == 10
    assert recipes(first) == recipes(tune(tmp_path / "b", "tpe", **kwargs))
    assert recipes(tune(tmp_path / "c", "tpe", random_seed=3, **kwargs)) != recipes(first)


def test_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path):
    resume_equivalence(tmp_path, "tpe", cut=4, exit_policy={"timeout": 3600, "max_trials": 8})
