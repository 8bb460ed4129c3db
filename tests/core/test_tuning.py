"""End-to-end tuning through the public API on the numpy toy backend (no DL framework)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lpot
import toy_job
from lpot.errors import ConfigError, DataError, EvaluationError
from lpot_toy.engine import ToyEngine, toy_backend
from lpot_toy.model import QuantizedMLP


def test_eval_func_usage_meets_goal_on_first_trial(tmp_path, toy_model, toy_loaders):
    calib, _ = toy_loaders
    evaluate = toy_job.PenalizingEval()
    result = lpot.tune(
        toy_model, q_dataloader=calib, eval_func=evaluate, config=toy_job.config(tmp_path), progress=False
    )
    assert result.status == "met"
    assert isinstance(result.model, QuantizedMLP)
    assert result.model.int8_layers == list(toy_job.LAYERS)
    assert len(result.trials) == 1
    assert result.accuracy >= result.goal
    assert result.baseline_accuracy > 0.9
    assert evaluate.calls == 2  # baseline + one trial
    assert (tmp_path / "best_model" / "recipe.json").exists()
    assert result.objective is not None and result.baseline_objective is not None


def test_fallback_finds_the_sensitive_ops_and_calibrates_once(tmp_path, toy_model, toy_loaders):
    calib, _ = toy_loaders
    evaluate = toy_job.PenalizingEval(("fc2", "fc3"))
    result = lpot.tune(
        toy_model, q_dataloader=calib, eval_func=evaluate, config=toy_job.config(tmp_path), progress=False
    )
    assert result.status == "met"
    assert sorted(op.name for op in result.recipe.fp32_ops()) == ["fc2", "fc3"]
    assert result.model.int8_layers == ["fc1", "fc4"]
    labels = [t.label for t in result.trials]
    assert labels[0] == "model-wise default"
    assert any(label.startswith("fallback ") for label in labels)
    assert labels[-1].startswith("accumulated fallback")
    # minmax and percentile were both needed by model-wise trials; nothing else recalibrated
    assert result.calibration_passes == ToyEngine.calibrate_calls == 2
    assert len(result.trials) > 4


def test_metric_usage_from_yaml(tmp_path, toy_model, toy_loaders):
    calib, evals = toy_loaders
    conf = tmp_path / "conf.yaml"
    conf.write_text(
        "model: {name: toy}\n"
        "evaluation:\n  accuracy:\n    metric:\n      topk: 1\n"
        f"tuning:\n  accuracy_criterion: {{relative: 0.02}}\n  workspace: {{path: {tmp_path / 'ws'}}}\n"
    )
    result = lpot.tune(toy_model, q_dataloader=calib, eval_dataloader=evals, config=str(conf), progress=False)
    assert result.status == "met"
    assert 0.9 < result.accuracy <= 1.0


def test_lower_is_better_metric_from_a_plugin(tmp_path, toy_model, toy_loaders):
    x, y = toy_job.make_data(1)
    onehot = np.eye(4, dtype=np.float32)[y]
    evals = lpot.ArrayLoader(x, onehot, batch_size=100)
    cfg = toy_job.config(tmp_path, accuracy_criterion={"absolute": 0.05})
    cfg["evaluation"] = {"accuracy": {"metric": {"toy_mae": {}}}}
    result = lpot.tune(
        toy_model, q_dataloader=toy_loaders[0], eval_dataloader=evals, config=cfg, progress=False
    )
    assert result.higher_is_better is False
    assert result.goal == pytest.approx(result.baseline_accuracy + 0.05)
    assert result.status == "met" and result.accuracy <= result.goal


def test_unreachable_goal_returns_best_found_with_status(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path, accuracy_criterion={"absolute": 0.0})
    evaluate = toy_job.PenalizingEval(("fc1", "fc2", "fc3", "fc4"), penalty=0.001)
    evaluate_strict = lambda m: evaluate(m) - (0.5 if isinstance(m, QuantizedMLP) else 0.0)  # noqa: E731
    result = lpot.tune(
        toy_model, q_dataloader=toy_loaders[0], eval_func=evaluate_strict, config=cfg, progress=False
    )
    assert result.status == "exhausted"
    assert result.model is not None and result.recipe is not None
    assert any("not met" in w for w in result.warnings)
    assert result.best_trial is not None and result.accuracy == max(t.accuracy for t in result.trials)


def test_max_trials_spends_the_budget(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path, exit_policy={"timeout": 0, "max_trials": 3})
    evaluate = toy_job.PenalizingEval(("fc2", "fc3"))
    result = lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=evaluate, config=cfg, progress=False)
    assert result.status == "budget_spent"
    assert len(result.trials) == 3
    assert "max_trials=3" in result.stop_reason


def test_third_party_strategy_by_name(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path, strategy={"name": "default_only"})
    evaluate = toy_job.PenalizingEval(("fc2",))
    result = lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=evaluate, config=cfg, progress=False)
    assert len(result.trials) == 1 and result.status == "exhausted"


def test_op_wise_rule_pins_an_op_to_fp32(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path)
    cfg["quantization"]["op_wise"] = {"fc1": {"activation": {"dtype": ["fp32"]}}}
    result = lpot.tune(
        toy_model, q_dataloader=toy_loaders[0], eval_func=toy_job.PenalizingEval(), config=cfg, progress=False
    )
    assert result.model.int8_layers == ["fc2", "fc3", "fc4"]


def test_op_wise_rule_for_a_missing_op_is_a_config_error(tmp_path, toy_model, toy_loaders):
    cfg = toy_job.config(tmp_path)
    cfg["quantization"]["op_wise"] = {"fc9": {"activation": {"dtype": ["fp32"]}}}
    with pytest.raises(ConfigError, match="no quantizable op named 'fc9'.*did you mean"):
        lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=toy_job.PenalizingEval(), config=cfg)


def test_empty_dataloader_is_a_data_error(tmp_path, toy_model):
    with pytest.raises(DataError, match="q_dataloader is empty"):
        lpot.tune(
            toy_model, q_dataloader=[], eval_func=toy_job.PenalizingEval(), config=toy_job.config(tmp_path)
        )


def test_one_shot_generator_is_a_data_error(tmp_path, toy_model, toy_loaders):
    gen = (b for b in toy_loaders[0])
    with pytest.raises(DataError, match="one-shot iterator"):
        lpot.tune(
            toy_model, q_dataloader=gen, eval_func=toy_job.PenalizingEval(), config=toy_job.config(tmp_path)
        )


def test_eval_func_raising_is_an_evaluation_error(tmp_path, toy_model, toy_loaders):
    def broken(model):
        raise KeyError("logits")

    with pytest.raises(EvaluationError, match="eval_func raised KeyError"):
        lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=broken, config=toy_job.config(tmp_path))


@pytest.mark.parametrize("value", [math.nan, "0.9", None], ids=["nan", "string", "none"])
def test_eval_func_returning_non_number_is_an_evaluation_error(tmp_path, toy_model, toy_loaders, value):
    with pytest.raises(EvaluationError, match="eval_func"):
        lpot.tune(
            toy_model, q_dataloader=toy_loaders[0], eval_func=lambda m: value, config=toy_job.config(tmp_path)
        )


def test_nothing_to_evaluate_with_is_a_config_error(tmp_path, toy_model, toy_loaders):
    with pytest.raises(ConfigError, match="eval_dataloader is missing"):
        lpot.tune(toy_model, q_dataloader=toy_loaders[0], config=toy_job.config(tmp_path))


def test_result_save_round_trip(tmp_path, toy_model, toy_loaders):
    result = lpot.tune(
        toy_model,
        q_dataloader=toy_loaders[0],
        eval_func=toy_job.PenalizingEval(),
        config=toy_job.config(tmp_path / "ws"),
        progress=False,
    )
    file = result.save(tmp_path / "out")
    loaded = toy_backend().load(file)
    x, _ = toy_job.make_data(2, n=10)
    np.testing.assert_array_equal(loaded(x), result.model(x))
    assert lpot.Recipe.from_json((tmp_path / "out" / "recipe.json").read_text()) == result.recipe


@pytest.mark.parametrize("objective", ["model_size", "footprint"])
def test_other_objectives_are_measured(tmp_path, toy_model, toy_loaders, objective):
    cfg = toy_job.config(tmp_path, objective=objective)
    result = lpot.tune(
        toy_model, q_dataloader=toy_loaders[0], eval_func=toy_job.PenalizingEval(), config=cfg, progress=False
    )
    assert result.objective_name == objective
    assert result.objective is not None and result.objective >= 0
    if objective == "model_size":
        assert result.objective == toy_backend().model_size(result.model)
        assert result.objective_ratio > 1  # int8 weights (npz headers dominate a model this small)


def test_static_quantization_without_calibration_data_is_a_data_error(tmp_path, toy_model):
    with pytest.raises(DataError, match="static quantization needs calibration data"):
        lpot.tune(
            toy_model, eval_func=toy_job.PenalizingEval(), config=toy_job.config(tmp_path), progress=False
        )


def test_tensorboard_without_its_package_fails_before_tuning(tmp_path, toy_model, toy_loaders):
    import importlib.util

    if importlib.util.find_spec("tensorboardX") is not None:
        pytest.skip("tensorboardX is installed here; the core session runs without it")
    evaluate = toy_job.PenalizingEval()
    cfg = {**toy_job.config(tmp_path), "tensorboard": True}
    with pytest.raises(ConfigError, match=r"pip install 'lpot-core\[tensorboard\]'"):
        lpot.tune(toy_model, q_dataloader=toy_loaders[0], eval_func=evaluate, config=cfg)
    assert evaluate.calls == 0


def test_a_met_recipe_with_no_int8_op_is_never_silent(tmp_path, toy_model, toy_loaders):
    """Issue 17 (TensorFlow row): 'status met' for a model with 0 INT8 ops, and the summary's
    figures of another trial. The warning comes first and the figures are the returned model's."""
    from lpot.report.text import result_summary

    calib, _ = toy_loaders
    evaluate = toy_job.PenalizingEval(toy_job.LAYERS, penalty=0.5)  # every INT8 layer costs too much
    cfg = toy_job.config(tmp_path, objective="modelsize")
    result = lpot.tune(toy_model, q_dataloader=calib, eval_func=evaluate, config=cfg, progress=False)
    assert result.status == "met" and not result.recipe.quantized_ops()
    assert "quantizes no op" in result.warnings[0]
    assert result.objective == result.best_trial.objective
    assert "quantizes no op" in result_summary(result)
