"""Config from Python and defaults, the accuracy criterion, and the resume hash."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
from lpot1_examples import RESNET50_TF, load_yaml, write_yaml

from lpot.config import (
    AccuracyCriterion,
    CalibrationConfig,
    Config,
    ExitPolicy,
    MetricConfig,
    ModelConfig,
    QuantizationConfig,
    TensorRules,
    TuningConfig,
    load_config,
)
from lpot.errors import ConfigError

# ---------------------------------------------------------------- Python input and defaults


def test_defaults(tmp_path):
    cfg = Config()
    assert load_config(None) == cfg == load_config({}) == load_yaml(tmp_path, "# nothing yet\n")
    assert cfg.quantization.approach == "post_training_static_quant"
    assert cfg.quantization.calibration.sampling_size == (100,)
    assert cfg.tuning.strategy.name == "basic" and cfg.tuning.objective == "performance"
    assert cfg.tuning.accuracy_criterion == AccuracyCriterion(
        kind="relative", value=0.01, higher_is_better=None
    )
    assert cfg.tuning.exit_policy == ExitPolicy(timeout=0.0, max_trials=100)
    assert cfg.tuning.random_seed == 1978 and cfg.tuning.workspace.path == "./lpot_workspace"
    assert cfg.evaluation.accuracy is None and cfg.evaluation.performance is None
    assert cfg.model.framework is None and cfg.model.scored_output is None


def test_dict_input_and_config_passthrough():
    raw = {"tuning": {"accuracy_criterion": {"absolute": 0.02}, "exit_policy": {"max_trials": 7}}}
    cfg = load_config(raw)
    assert cfg.tuning.accuracy_criterion.kind == "absolute" and cfg.tuning.exit_policy.max_trials == 7
    assert load_config(cfg) is cfg
    raw["tuning"]["exit_policy"]["max_trials"] = 8  # the config took a copy
    assert cfg.tuning.exit_policy.max_trials == 7


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config().device = "gpu"  # type: ignore[misc]


def test_python_construction_is_normalized():
    rules = TensorRules(activation={"dtype": "uint8, float32", "algorithm": ["entropy", "kl"]}, weight=None)
    assert rules.activation == {"dtype": ("uint8", "fp32"), "algorithm": ("kl",)} and rules.weight == {}
    q = QuantizationConfig(op_wise={"conv1": {"activation": {"dtype": ["fp32"]}}})
    assert q.op_wise["conv1"] == TensorRules(activation={"dtype": ("fp32",)})
    assert CalibrationConfig(sampling_size=[50, "100"]).sampling_size == (50, 100)
    assert ModelConfig(inputs="a, b").inputs == ("a", "b")
    assert AccuracyCriterion(value="1%").value == pytest.approx(0.01)
    assert MetricConfig(name="COCOmAP").name == "cocomap"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ExitPolicy(max_trials=0), "ExitPolicy.max_trials: expected a positive integer, got 0 (int)"),
        (lambda: ExitPolicy(timeout=-1), "ExitPolicy.timeout: expected seconds >= 0, got -1"),
        (
            lambda: TuningConfig(strategy="basic"),
            "TuningConfig.strategy: expected a StrategyConfig, got 'basic' (str)",
        ),
        (
            lambda: QuantizationConfig(op_wise={"conv1": {"activation": {"dtyp": "fp32"}}}),
            "QuantizationConfig: unknown key 'op_wise.conv1.activation.dtyp'; did you mean 'dtype'?",
        ),
        (
            lambda: TensorRules(weight={"scheme": "asymm"}),
            "TensorRules.weight.scheme: expected one of sym, asym, got 'asymm'; did you mean 'asym'?",
        ),
        (lambda: ModelConfig(framework="caffe 2"), "ModelConfig.framework: expected a name such as"),
        (
            lambda: Config(extra_sections={"prunning": {}}),
            "Config: unknown key 'prunning'; did you mean 'pruning'?",
        ),
    ],
    ids=["max_trials", "timeout", "sub-config-type", "op_wise-key", "scheme", "framework", "raw-section"],
)
def test_python_construction_errors_name_the_class(build, message):
    with pytest.raises(ConfigError) as info:
        build()
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("yaml_metric", "name", "params"),
    [
        ("{topk: 1}", "topk", {"k": 1}),
        ("{topk: 5}", "topk", {"k": 5}),
        ("{Accuracy: {}}", "accuracy", {}),
        ("{accuracy: }", "accuracy", {}),
        ("{F1: {}}", "f1", {}),
        ("{MSE: {compare_label: false}}", "mse", {"compare_label": False}),
        (
            "{COCOmAP: {anno_path: /nonexistent/label_map.yaml}}",
            "cocomap",
            {"anno_path": "/nonexistent/label_map.yaml"},
        ),
        ("{mAP: {iou_thrs: 0.5, map_points: 0}}", "map", {"iou_thrs": 0.5, "map_points": 0}),
        ("{BLEU: 4}", "bleu", {"value": 4}),
        ("topk", "topk", {}),
    ],
    ids=["topk1", "topk5", "Accuracy", "accuracy-null", "F1", "MSE", "COCOmAP", "mAP", "scalar", "bare-name"],
)
def test_metric_forms(tmp_path, yaml_metric, name, params):
    cfg = load_yaml(tmp_path, f"evaluation:\n  accuracy:\n    metric: {yaml_metric}\n")
    assert cfg.evaluation.accuracy.metric == MetricConfig(name=name, params=params)


@pytest.mark.parametrize(
    "framework", ["onnxrt_qlinearops", "pytorch_fx", "keras", "my_backend", None], ids=str
)
def test_framework_names_are_kept_for_the_backends_to_answer(framework):
    """Which backend answers to a framework name is the backends' business (their ``lpot.frameworks``
    entry points), decided when tuning starts: a config loads where that backend is not installed."""
    assert ModelConfig(framework=framework).framework == framework


# ---------------------------------------------------------------- the accuracy criterion


@pytest.mark.parametrize(
    ("kind", "value", "hib", "baseline", "accuracy", "met"),
    [
        ("relative", 0.01, True, 0.80, 0.792, True),
        ("relative", 0.01, True, 0.80, 0.7919, False),
        ("relative", 0.01, True, 0.80, 0.95, True),
        ("relative", 0.01, False, 2.0, 2.02, True),
        ("relative", 0.01, False, 2.0, 2.03, False),
        ("relative", 0.01, False, 2.0, 1.0, True),
        ("relative", 0.10, True, -2.0, -2.2, True),
        ("relative", 0.10, True, -2.0, -2.3, False),
        ("relative", 0.0, True, 0.75, 0.75, True),
        ("relative", 0.10, True, 0.33, 0.297, True),
        ("absolute", 0.02, True, 0.80, 0.78, True),
        ("absolute", 0.02, True, 0.80, 0.779, False),
        ("absolute", 0.5, False, 3.0, 3.5, True),
        ("absolute", 0.5, False, 3.0, 3.6, False),
        ("absolute", 0.02, True, 0.80, math.nan, False),
    ],
    ids=[
        "rel-hib-met",
        "rel-hib-miss",
        "rel-hib-better",
        "rel-lib-met",
        "rel-lib-miss",
        "rel-lib-better",
        "rel-negative-baseline-met",
        "rel-negative-baseline-miss",
        "rel-zero-loss-equal",
        "rel-float-rounding",
        "abs-hib-met",
        "abs-hib-miss",
        "abs-lib-met",
        "abs-lib-miss",
        "nan-never-meets",
    ],
)
def test_is_met_truth_table(kind, value, hib, baseline, accuracy, met):
    assert AccuracyCriterion(kind=kind, value=value).to_goal(baseline, hib).met(accuracy) is met


@pytest.mark.parametrize(
    ("kind", "value", "hib", "baseline", "goal"),
    [
        ("relative", 0.01, True, 0.80, 0.792),
        ("relative", 0.01, False, 2.0, 2.02),
        ("relative", 0.10, True, -2.0, -2.2),
        ("relative", 0.10, False, -2.0, -1.8),
        ("absolute", 0.02, True, 0.80, 0.78),
        ("absolute", 0.5, False, 3.0, 3.5),
    ],
    ids=["rel-hib", "rel-lib", "rel-hib-negative", "rel-lib-negative", "abs-hib", "abs-lib"],
)
def test_goal_table(kind, value, hib, baseline, goal):
    made = AccuracyCriterion(kind=kind, value=value).to_goal(baseline, hib)
    assert (
        made.threshold == pytest.approx(goal) and made.baseline == baseline and made.higher_is_better is hib
    )


# ---------------------------------------------------------------- hash


def test_hash_is_stable_across_loads_sources_and_key_order(tmp_path):
    cfg = load_yaml(tmp_path, RESNET50_TF)
    assert re.fullmatch(r"[0-9a-f]{64}", cfg.hash())
    assert cfg.hash() == load_config(write_yaml(tmp_path, RESNET50_TF, "copy.yaml")).hash()
    data = cfg.to_dict()
    reordered = {k: data[k] for k in reversed(list(data))}
    reordered["tuning"] = {k: data["tuning"][k] for k in reversed(list(data["tuning"]))}
    assert load_config(reordered).hash() == cfg.hash()


def test_hash_ignores_the_workspace():
    a = load_config({"tuning": {"workspace": {"path": "/a"}}})
    b = load_config({"tuning": {"workspace": {"path": "/b", "resume": "/a/history.json"}}})
    assert a.hash() == b.hash() == Config().hash()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["tuning"].update(random_seed=1),
        lambda d: d["tuning"]["accuracy_criterion"].update(relative=0.02),
        lambda d: d["tuning"].update(accuracy_criterion={"absolute": 0.01}),
        lambda d: d["quantization"]["calibration"].update(sampling_size=[100]),
        lambda d: d["quantization"]["model_wise"]["weight"].update(granularity=["per_tensor"]),
        lambda d: d["quantization"]["op_wise"].update({"conv9": {"activation": {"dtype": ["fp32"]}}}),
        lambda d: d["evaluation"]["accuracy"].update(metric={"topk": {"k": 5}}),
        lambda d: d["evaluation"]["accuracy"]["dataloader"]["dataset"]["ImageRecord"].update(root="/other"),
        lambda d: d["evaluation"]["accuracy"]["dataloader"].update(
            transform=dict(reversed(d["evaluation"]["accuracy"]["dataloader"]["transform"].items()))
        ),
        lambda d: d["model"].update(framework="keras"),
    ],
    ids=[
        "seed",
        "criterion-value",
        "criterion-kind",
        "sampling_size",
        "model_wise",
        "op_wise",
        "metric",
        "dataset-root",
        "transform-order",
        "framework",
    ],
)
def test_hash_changes_with_any_setting(tmp_path, change):
    cfg = load_yaml(tmp_path, RESNET50_TF)
    data = cfg.to_dict()
    change(data)
    assert load_config(data).hash() != cfg.hash()


def test_budget_is_not_part_of_the_resume_hash():
    """A run cut by max_trials or timeout may be resumed with a bigger budget."""
    small = load_config({"tuning": {"exit_policy": {"max_trials": 5}}})
    big = load_config({"tuning": {"exit_policy": {"max_trials": 50, "timeout": 600}}})
    other = load_config({"tuning": {"accuracy_criterion": {"relative": 0.02}}})
    assert small.hash() == big.hash() == load_config({}).hash()
    assert other.hash() != small.hash()
