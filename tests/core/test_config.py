"""Config loading: LPOT 1.x files load unchanged; each mistake gets a precise message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpot.config import AccuracyCriterion, Config, load_config
from lpot.errors import ConfigError

EXAMPLES = Path(__file__).parent / "lpot1_configs"


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "conf.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_lpot1_examples_load_unchanged(name):
    cfg = load_config(EXAMPLES / name)
    assert cfg.source.endswith(name)
    assert cfg.tuning.accuracy_criterion == AccuracyCriterion(
        kind="relative", value=0.01, higher_is_better=cfg.tuning.accuracy_criterion.higher_is_better
    )


def test_tensorflow_example_details():
    cfg = load_config(EXAMPLES / "resnet50_v1_tf.yaml")
    assert cfg.quantization.calibration.sampling_size == (50, 100)
    assert (
        cfg.quantization.calibration.dataloader["dataset"]["ImageRecord"]["root"]
        == "/path/to/calibration/dataset"
    )
    assert cfg.quantization.model_wise.activation == {"algorithm": ("minmax",)}
    op = cfg.quantization.op_wise["v0/cg/affine0/xw_plus_b"]
    assert op.activation["dtype"] == ("fp32",) and op.weight["dtype"] == ("fp32",)
    assert cfg.tuning.tensorboard is True and cfg.tuning.random_seed == 9527
    assert cfg.model.inputs == ("input",) and cfg.model.backend_name == "tensorflow"
    assert (
        cfg.evaluation.performance.cores_per_instance == 4 and cfg.evaluation.performance.num_of_instance == 7
    )
    assert cfg.evaluation.accuracy.metric.name == "topk" and cfg.evaluation.accuracy.metric.params == {"k": 1}


def test_onnx_examples_map_framework_names():
    dynamic = load_config(EXAMPLES / "bert_onnx_dynamic.yaml")
    assert dynamic.model.backend_name == "onnxrt" and dynamic.model.framework_format == "integer"
    assert dynamic.quantization.approach == "post_training_dynamic_quant"
    assert dynamic.evaluation.accuracy.metric.name == "glue"
    qlinear = load_config(EXAMPLES / "resnet50_onnx_qlinear.yaml")
    assert qlinear.model.framework_format == "qoperator"
    assert qlinear.evaluation.performance.extra == {"kmp_blocktime": 1}


def test_pytorch_example_model_wise_and_direction():
    cfg = load_config(EXAMPLES / "resnet18_pytorch.yaml")
    assert cfg.tuning.accuracy_criterion.higher_is_better is True
    assert cfg.quantization.model_wise.activation["algorithm"] == ("kl",)
    assert cfg.tuning.exit_policy.max_trials == 600


def test_defaults_and_dict_input():
    assert load_config(None) == Config()
    cfg = load_config(
        {"tuning": {"accuracy_criterion": {"absolute": 0.02}, "exit_policy": {"max_trials": 7}}}
    )
    assert cfg.tuning.accuracy_criterion.kind == "absolute" and cfg.tuning.exit_policy.max_trials == 7
    assert load_config(cfg) is cfg


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"config file '.*nope.yaml' does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_malformed_yaml_names_file_line_and_column(tmp_path):
    path = _write(tmp_path, "tuning:\n  accuracy_criterion: {relative: 0.01\n  exit_policy: {}\n")
    with pytest.raises(ConfigError, match=r"conf.yaml: malformed YAML at line \d+, column \d+"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="conf.yaml: the top level must be a mapping"):
        load_config(_write(tmp_path, "- a\n- b\n"))


def test_unknown_key_with_suggestion(tmp_path):
    path = _write(tmp_path, "tuning:\n  acuracy_criterion: {relative: 0.01}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (
        str(info.value)
        == f"{path}: unknown key 'tuning.acuracy_criterion'; did you mean 'accuracy_criterion'?"
    )


def test_unknown_nested_key_has_the_full_path(tmp_path):
    path = _write(tmp_path, "quantization:\n  op_wise:\n    conv1:\n      activation: {dtyp: [fp32]}\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'quantization.op_wise.conv1.activation.dtyp'; did you mean 'dtype'"
    ):
        load_config(path)


def test_wrong_type_names_path_value_and_expectation(tmp_path):
    path = _write(tmp_path, "tuning:\n  exit_policy:\n    max_trials: ten\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert (
        str(info.value)
        == f"{path}: tuning.exit_policy.max_trials: expected a positive integer, got 'ten' (str)"
    )


def test_bad_enum_value_lists_the_allowed(tmp_path):
    path = _write(tmp_path, "quantization:\n  approach: post_training_fancy_quant\n")
    with pytest.raises(
        ConfigError, match=r"conf.yaml: quantization.approach: expected one of post_training_static_quant"
    ):
        load_config(path)
    path = _write(tmp_path, "quantization:\n  model_wise:\n    weight: {granularity: per_row}\n")
    with pytest.raises(
        ConfigError,
        match=r"quantization.model_wise.weight.granularity: expected one of per_tensor, per_channel, got 'per_row'",
    ):
        load_config(path)
    path = _write(tmp_path, "model: {framework: caffe}\n")
    with pytest.raises(ConfigError, match=r"model.framework: expected one of .*onnxrt_qdqops.*got 'caffe'"):
        load_config(path)


def test_relative_and_absolute_together(tmp_path):
    path = _write(tmp_path, "tuning:\n  accuracy_criterion: {relative: 0.01, absolute: 0.02}\n")
    with pytest.raises(ConfigError, match="tuning.accuracy_criterion: give either relative or absolute"):
        load_config(path)


def test_relative_out_of_range(tmp_path):
    path = _write(tmp_path, "tuning:\n  accuracy_criterion: {relative: 1.5}\n")
    with pytest.raises(
        ConfigError, match=r"conf.yaml: tuning.accuracy_criterion.relative: expected 0 <= value < 1, got 1.5"
    ):
        load_config(path)


def test_bad_sampling_size(tmp_path):
    path = _write(tmp_path, "quantization:\n  calibration: {sampling_size: 'fifty, 100'}\n")
    with pytest.raises(
        ConfigError, match="quantization.calibration.sampling_size: expected an integer or a list"
    ):
        load_config(path)


def test_section_that_is_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match=r"conf.yaml: tuning: expected a mapping of keys, got 3 \(int\)"):
        load_config(_write(tmp_path, "tuning: 3\n"))


def test_later_lpot_sections_are_kept_raw(tmp_path):
    cfg = load_config(_write(tmp_path, "pruning:\n  train: {epoch: 3}\ndistillation: {}\n"))
    assert cfg.extra_sections["pruning"] == {"train": {"epoch": 3}}


@pytest.mark.parametrize(
    ("kind", "value", "hib", "baseline", "accuracy", "met"),
    [
        ("relative", 0.01, True, 0.80, 0.792, True),
        ("relative", 0.01, True, 0.80, 0.7919, False),
        ("relative", 0.01, False, 2.0, 2.02, True),
        ("relative", 0.01, False, 2.0, 2.03, False),
        ("absolute", 0.02, True, 0.80, 0.78, True),
        ("absolute", 0.02, True, 0.80, 0.779, False),
        ("absolute", 0.5, False, 3.0, 3.5, True),
        ("absolute", 0.5, False, 3.0, 3.6, False),
    ],
    ids=[
        "rel-hib-met",
        "rel-hib-miss",
        "rel-lib-met",
        "rel-lib-miss",
        "abs-hib-met",
        "abs-hib-miss",
        "abs-lib-met",
        "abs-lib-miss",
    ],
)
def test_accuracy_criterion_truth_table(kind, value, hib, baseline, accuracy, met):
    assert AccuracyCriterion(kind=kind, value=value).is_met(baseline, accuracy, hib) is met


def test_hash_ignores_workspace_but_not_settings():
    a = load_config({"tuning": {"workspace": {"path": "/a"}}})
    b = load_config({"tuning": {"workspace": {"path": "/b"}}})
    c = load_config({"tuning": {"random_seed": 1}})
    assert a.hash() == b.hash() != c.hash()
    assert a.hash() == load_config({"tuning": {"workspace": {"path": "/a"}}}).hash()
