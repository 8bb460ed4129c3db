"""mse: model-wise INT8, ops ranked by output error against FP32 (backend inspect), fallback in order."""

from __future__ import annotations

import json

import pytest
from test_strategy_common import fp32_names, labels, recipes, resume_equivalence, tune

from lpot.errors import ConfigError
from lpot.strategies.mse import MseStrategy

# model_wise ranking: ops downstream of a damaged one inherit its error, so the ranking is fc8, fc3,
# fc4, fc6, ...: the goal is met at the fourth fallback (5 trials) with fc4 and fc8 FP32 too.
MODEL_WISE_BOUND = 5
# isolated ranking: each op's own error; fc3 and fc6 come first: default + 2 fallbacks.
ISOLATED_TRIALS = 3


def test_model_wise_ranking_meets_the_goal_with_the_bad_ops_in_fp32(tmp_path):
    result = tune(tmp_path, "mse")
    assert result.status == "met"
    assert len(result.trials) <= MODEL_WISE_BOUND
    assert {"fc3", "fc6"} <= set(fp32_names(result.recipe))
    assert labels(result)[0] == "model-wise default" and labels(result)[1].startswith("mse fallback 1/8")


def test_isolated_ranking_finds_exactly_the_bad_ops(tmp_path):
    result = tune(tmp_path, "mse", params={"ranking": "isolated"})
    assert result.status == "met"
    assert len(result.trials) == ISOLATED_TRIALS
    assert fp32_names(result.recipe) == ["fc3", "fc6"]
    # the inspections (one per op, no evaluation) are kept in the history and the run log
    events = [json.loads(line) for line in (tmp_path / "run.log.jsonl").read_text().splitlines()]
    assert sum(e.get("event") == "inspected" for e in events) == 8


def test_deterministic(tmp_path):
    assert recipes(tune(tmp_path / "a", "mse")) == recipes(tune(tmp_path / "b", "mse"))


@pytest.mark.parametrize("ranking", ["model_wise", "isolated"])
def test_resume_proposes_what_an_uninterrupted_run_proposes(tmp_path, ranking):
    resume_equivalence(tmp_path, "mse", cut=2, params={"ranking": ranking})
    # the op errors come from the history on resume: only the interrupted run inspected
    log = (tmp_path / "cut" / "run.log.jsonl").read_text().splitlines()
    inspected = sum(json.loads(line).get("event") == "inspected" for line in log)
    assert inspected == (8 if ranking == "isolated" else 1)


def test_an_unknown_ranking_is_a_config_error():
    with pytest.raises(ConfigError, match="ranking"):
        MseStrategy(ranking="psnr")


def test_without_inspection_ops_fall_back_in_graph_order(tmp_path, monkeypatch):
    from lpot_toy.engine import ToyEngine

    def no_inspect(self, model, inputs, ops):
        raise NotImplementedError("this backend cannot inspect tensors")

    monkeypatch.setattr(ToyEngine, "inspect", no_inspect)  # a failing inspection ranks nothing
    result = tune(tmp_path, "mse")
    assert result.status == "met"
    assert [label.split("(")[1].rstrip(")") for label in labels(result)[1:]] == [
        f"fc{i}" for i in range(1, 7)
    ]
