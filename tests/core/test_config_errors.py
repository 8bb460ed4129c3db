"""Each config mistake gets one precise line: file, dotted key, value, what was expected."""

from __future__ import annotations

import pytest
from lpot1_examples import load_yaml, yaml_error

from lpot.config import load_config
from lpot.errors import ConfigError

# ---------------------------------------------------------------- one precise line per mistake


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"config file {str(path)!r} does not exist"


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory; give the path of the YAML file in it"):
        load_config(tmp_path)


def test_malformed_yaml_names_line_column_and_problem(tmp_path):
    text = "tuning:\n  accuracy_criterion: {relative: 0.01\n  exit_policy: {}\n"
    assert yaml_error(tmp_path, text) == (
        "malformed YAML at line 3, column 14: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping started at line 2, column 23)"
    )


def test_tab_indentation_gets_a_hint(tmp_path):
    message = yaml_error(tmp_path, "tuning:\n\trandom_seed: 1\n")
    assert message.startswith("malformed YAML at line 2, column 1: found character '\\t'")
    assert "indent with spaces, not tabs" in message


def test_duplicate_key_is_not_silently_dropped(tmp_path):
    text = "tuning:\n  exit_policy: {max_trials: 5}\n  random_seed: 1\n  exit_policy: {max_trials: 9}\n"
    assert yaml_error(tmp_path, text).startswith(
        "duplicate key 'tuning.exit_policy' at line 4 (first at line 2); YAML would keep only the last one"
    )


def test_top_level_must_be_a_mapping(tmp_path):
    assert yaml_error(tmp_path, "- model\n- tuning\n").startswith(
        "the top level must be a mapping of sections"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tunning: {}\n", "unknown key 'tunning'; did you mean 'tuning'?"),
        (
            "tuning:\n  acuracy_criterion: {relative: 0.01}\n",
            "unknown key 'tuning.acuracy_criterion'; did you mean 'accuracy_criterion'?",
        ),
        (
            "quantization:\n  op_wise:\n    conv1:\n      activation: {dtyp: [fp32]}\n",
            "unknown key 'quantization.op_wise.conv1.activation.dtyp'; did you mean 'dtype'?",
        ),
        (
            "quantization:\n  model_wise:\n    weights: {dtype: int8}\n",
            "unknown key 'quantization.model_wise.weights'; did you mean 'weight'?",
        ),
        (
            "evaluation:\n  performance:\n    configs: {kmp_blocktme: 1}\n",
            "unknown key 'evaluation.performance.configs.kmp_blocktme'; did you mean 'kmp_blocktime'?",
        ),
        (
            "tuning:\n  exit_policy: {timout: 10}\n",
            "unknown key 'tuning.exit_policy.timout'; did you mean 'timeout'?",
        ),
        (
            "model: {name: m, color: red}\n",
            "unknown key 'model.color'; expected one of name, framework, inputs, outputs",
        ),
    ],
    ids=["top-level", "tuning", "op_wise", "model_wise", "perf-configs", "exit_policy", "no-close-match"],
)
def test_unknown_keys_have_the_full_path_and_a_suggestion(tmp_path, text, message):
    assert yaml_error(tmp_path, text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "tuning:\n  exit_policy:\n    max_trials: ten\n",
            "tuning.exit_policy.max_trials: expected a positive integer, got 'ten' (str)",
        ),
        (
            "tuning:\n  exit_policy: {max_trials: 0}\n",
            "tuning.exit_policy.max_trials: expected a positive integer, got 0 (int)",
        ),
        (
            "tuning:\n  exit_policy: {timeout: -5}\n",
            "tuning.exit_policy.timeout: expected seconds >= 0, got -5",
        ),
        ("tuning: {random_seed: -1}\n", "tuning.random_seed: expected an integer >= 0, got -1 (int)"),
        ("tuning: {tensorboard: maybe}\n", "tuning.tensorboard: expected true or false, got 'maybe' (str)"),
        ("tensorboard: 1\n", "tensorboard: expected true or false, got 1 (int)"),
        ("tuning: 3\n", "tuning: expected a mapping of keys, got 3 (int)"),
        ("model: {name: [a]}\n", "model.name: expected a non-empty string, got ['a'] (list)"),
        (
            "evaluation:\n  performance:\n    configs: {cores_per_instance: four}\n",
            "evaluation.performance.configs.cores_per_instance: expected a positive integer, got 'four' (str)",
        ),
        (
            "evaluation:\n  performance: {warmup: -1}\n",
            "evaluation.performance.warmup: expected an integer >= 0, got -1 (int)",
        ),
        (
            "quantization:\n  calibration:\n    dataloader: /nonexistent/data\n",
            "quantization.calibration.dataloader: expected a mapping (batch_size, dataset, transform, ...), "
            "got '/nonexistent/data' (str)",
        ),
        (
            "quantization:\n  calibration: {sampling_size: 'fifty, 100'}\n",
            "quantization.calibration.sampling_size: expected a positive integer or a list of them "
            "(e.g. '50, 100'), got 'fifty, 100' (str)",
        ),
        (
            "quantization:\n  op_wise:\n    1: {activation: {dtype: fp32}}\n",
            "quantization.op_wise: keys must be op names (strings), got 1 (int)",
        ),
        (
            "evaluation:\n  accuracy:\n    metric: {topk: 1, F1: {}}\n",
            "evaluation.accuracy.metric: expected exactly one metric such as {topk: 1}, got ['topk', 'F1']",
        ),
        ("pruning: [1, 2]\n", "pruning: expected a mapping, got [1, 2] (list)"),
    ],
    ids=[
        "max_trials-str",
        "max_trials-zero",
        "timeout",
        "seed",
        "bool",
        "top-bool",
        "section",
        "name",
        "cores",
        "warmup",
        "dataloader",
        "sampling_size",
        "op-name",
        "two-metrics",
        "raw-section",
    ],
)
def test_wrong_types_name_path_value_and_expectation(tmp_path, text, message):
    assert yaml_error(tmp_path, text) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "quantization:\n  approach: post_training_fancy_quant\n",
            "quantization.approach: expected one of post_training_static_quant, post_training_dynamic_quant, "
            "quant_aware_training, got 'post_training_fancy_quant'",
        ),
        (
            "quantization:\n  model_wise:\n    weight: {granularity: per_chanel}\n",
            "quantization.model_wise.weight.granularity: expected one of per_tensor, per_channel, "
            "got 'per_chanel'; did you mean 'per_channel'?",
        ),
        (
            "quantization:\n  op_wise: {'conv1': {'activation': {'dtype': ['int4']}}}\n",
            "quantization.op_wise.conv1.activation.dtype: expected one of int8, uint8, fp32, bf16, fp16, got 'int4'",
        ),
        ("model: {framework: 'onnx rt'}\n", "model.framework: expected a name such as onnxrt_qdqops"),
        ("device: tpu\n", "device: expected one of cpu, gpu, got 'tpu'"),
    ],
    ids=["approach", "granularity", "dtype", "framework", "device"],
)
def test_bad_enum_values_list_the_allowed(tmp_path, text, message):
    assert yaml_error(tmp_path, text).startswith(message)


def test_framework_typo_is_answered_when_tuning_starts_with_what_is_installed():
    from lpot import plugins
    from lpot.errors import BackendNotFoundError

    with pytest.raises(BackendNotFoundError) as info:
        plugins.backend_for_framework("numpy_mpl")
    message = str(info.value)
    assert "no installed backend answers to model.framework 'numpy_mpl'" in message
    assert "toy (numpy_gpu, numpy_mlp, toy)" in message and "Did you mean 'numpy_mlp'?" in message
    assert "packages named lpot-<framework>" in message


def test_relative_and_absolute_together(tmp_path):
    text = "tuning:\n  accuracy_criterion: {relative: 0.01, absolute: 0.02}\n"
    assert yaml_error(tmp_path, text) == (
        "tuning.accuracy_criterion: give either relative or absolute, not both (relative: 0.01, absolute: 0.02)"
    )


@pytest.mark.parametrize(
    ("criterion", "message"),
    [
        (
            "{relative: 1.5}",
            "tuning.accuracy_criterion.relative: expected a fraction 0 <= value < 1 (0.01 is 1%), got 1.5",
        ),
        (
            "{relative: -0.1}",
            "tuning.accuracy_criterion.relative: expected a fraction 0 <= value < 1 (0.01 is 1%), got -0.1",
        ),
        ("{absolute: -1}", "tuning.accuracy_criterion.absolute: expected a number >= 0, got -1"),
        ("{absolute: lots}", "tuning.accuracy_criterion.absolute: expected a number >= 0, got 'lots' (str)"),
        (
            "{higher_is_better: 1}",
            "tuning.accuracy_criterion.higher_is_better: expected true or false, got 1 (int)",
        ),
    ],
    ids=["relative-too-big", "relative-negative", "absolute-negative", "absolute-str", "direction"],
)
def test_accuracy_criterion_values(tmp_path, criterion, message):
    assert yaml_error(tmp_path, f"tuning:\n  accuracy_criterion: {criterion}\n") == message


def test_percent_strings_as_in_lpot(tmp_path):
    cfg = load_yaml(tmp_path, "tuning:\n  accuracy_criterion: {relative: 1%}\n")
    assert cfg.tuning.accuracy_criterion.value == pytest.approx(0.01)


def test_dict_errors_have_no_file_prefix():
    with pytest.raises(ConfigError) as info:
        load_config({"tuning": {"exit_policy": {"max_trials": "ten"}}})
    assert str(info.value) == "tuning.exit_policy.max_trials: expected a positive integer, got 'ten' (str)"


def test_unsupported_source_type():
    with pytest.raises(
        ConfigError, match="config must be a YAML file path, a dict or an lpot.Config, got int"
    ):
        load_config(42)  # type: ignore[arg-type]
