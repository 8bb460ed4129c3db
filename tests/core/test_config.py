"""Config: LPOT 1.x files load unchanged; each mistake gets one precise line; criterion and hash."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

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
    WorkspaceConfig,
    load_config,
)
from lpot.errors import ConfigError

# ---------------------------------------------------------------- LPOT 1.x files, as users wrote them

RESNET50_TF = """\
version: 1.0

model:                                   # mandatory. lpot uses the name and framework
  name: resnet50_v1
  framework: tensorflow
  inputs: input
  outputs: predict

device: cpu

quantization:
  calibration:
    sampling_size: 50, 100               # a flow string: tune over both
    dataloader:
      batch_size: 10
      dataset:
        ImageRecord:
          root: /nonexistent/imagenet/calibration
      transform:
        ParseDecodeImagenet:
        ResizeCropImagenet:
          height: 224
          width: 224
          mean_value: [123.68, 116.78, 103.94]
  model_wise:
    activation:
      algorithm: minmax
    weight:
      granularity: per_channel
  op_wise: {
             'v0/cg/conv0/conv2d/Conv2D': {
               'activation':  {'dtype': ['uint8', 'fp32']},
             },
             'v0/cg/affine0/xw_plus_b': {
               'activation':  {'dtype': ['fp32']},
               'weight': {'dtype': ['fp32']}
             }
           }

evaluation:
  accuracy:
    metric:
      topk: 1
    dataloader:
      batch_size: 32
      dataset:
        ImageRecord:
          root: /nonexistent/imagenet/validation
      transform:
        ParseDecodeImagenet:
        BilinearImagenet:
          height: 224
          width: 224
  performance:
    warmup: 10
    iteration: 100
    configs:
      cores_per_instance: 4
      num_of_instance: 7
    dataloader:
      batch_size: 1
      last_batch: discard
      dataset:
        ImageRecord:
          root: /nonexistent/imagenet/validation

tuning:
  accuracy_criterion:
    relative:  0.01
  exit_policy:
    timeout: 0
    max_trials: 100
  random_seed: 9527
  tensorboard: true
  workspace:
    path: ./lpot_workspace/resnet50/
    resume: ./lpot_workspace/resnet50/history.snapshot
"""

SSD_MOBILENET_TF = """\
model:
  name: ssd_mobilenet_v1
  framework: tensorflow
  inputs: image_tensor
  outputs: num_detections,detection_boxes,detection_scores,detection_classes

quantization:
  calibration:
    sampling_size: 10, 50, 100, 200
    dataloader:
      dataset:
        COCORecord:
          root: /nonexistent/coco/val2017.record
      transform:
  model_wise:
    activation:
      algorithm: minmax
    weight:
      algorithm: minmax

evaluation:
  accuracy:
    metric:
      COCOmAP: {}
    dataloader:
      batch_size: 10
      dataset:
        COCORecord:
          root: /nonexistent/coco/val2017.record
      transform:
        Resize:
          size: 300
  performance:
    iteration: 100
    configs:
      cores_per_instance: 28
      num_of_instance: 1
      kmp_blocktime: 1

tuning:
  accuracy_criterion:
    relative:  0.01
  exit_policy:
    timeout: 0
  random_seed: 9527
"""

RESNET50_ONNX = """\
version: 1.0

model:
  name: imagenet
  framework: onnxrt_qlinearops

quantization:
  approach: post_training_static_quant
  calibration:
    sampling_size: 50
    dataloader:
      batch_size: 1
      dataset:
        ImagenetRaw:
          data_path: /nonexistent/ILSVRC2012_img_val
          image_list: /nonexistent/val_map.txt
      transform:
        Rescale: {}
        Resize:
          size: 256
        CenterCrop:
          size: 224
        Normalize:
          mean: [0.485, 0.456, 0.406]
          std: [0.229, 0.224, 0.225]
        Transpose:
          perm: [2, 0, 1]
        Cast:
          dtype: float32

evaluation:
  accuracy:
    metric:
      topk: 1
    dataloader:
      batch_size: 1
      dataset:
        ImagenetRaw:
          data_path: /nonexistent/ILSVRC2012_img_val
          image_list: /nonexistent/val_map.txt
  performance:
    warmup: 10
    iteration: 1000
    configs:
      cores_per_instance: 4
      num_of_instance: 1
      kmp_blocktime: 1

tuning:
  strategy:
    name: basic
  accuracy_criterion:
    relative:  0.02
  exit_policy:
    timeout: 0
  random_seed: 9527
"""

BERT_ONNX_DYNAMIC = """\
version: 1.0

model:
  name: bert
  framework: onnxrt_integerops

quantization:
  approach: post_training_dynamic_quant

evaluation:
  accuracy:
    metric:
      GLUE:
        task: mrpc

tuning:
  accuracy_criterion:
    relative:  0.01
  exit_policy:
    timeout: 0
    max_trials: 1000
  random_seed: 9527
  workspace:
    path: ./nc_workspace/bert/
"""

RESNET18_PYTORCH = """\
model:
  name: imagenet
  framework: pytorch

device: cpu

quantization:
  approach: post_training_static_quant
  calibration:
    sampling_size: 300
  model_wise:
    activation:
      scheme: asym
      dtype: uint8
      algorithm: kl
    weight:
      scheme: sym
      dtype: int8
      granularity: per_channel
  op_wise:
    layer4.1.conv2:
      activation:
        dtype: [fp32]
      weight:
        dtype: [fp32]

evaluation:
  accuracy:
    metric:
      topk: 1
    dataloader:
      batch_size: 30
      dataset:
        ImageFolder:
          root: /nonexistent/imagenet/val
      transform:
        Resize:
          size: 256
        CenterCrop:
          size: 224
        ToTensor: {}
        Normalize:
          mean: [0.485, 0.456, 0.406]
          std: [0.229, 0.224, 0.225]

tuning:
  strategy:
    name: basic
  accuracy_criterion:
    relative: 0.01
    higher_is_better: True
  exit_policy:
    timeout: 0
    max_trials: 600
  random_seed: 9527
  workspace:
"""

MXNET_LATER_SECTIONS = """\
model:
  name: mobilenet1.0
  framework: mxnet

tensorboard: true

quantization:
  calibration:
    sampling_size: [40, 80]
  model_wise:
    activation:
      algorithm: [minmax, entropy]

evaluation:
  accuracy:
    metric:
      Accuracy: {}
    postprocess:
      transform:
        LabelShift: -1
  performance:
    iteration: -1

tuning:
  strategy:
    name: mse
    accuracy_weight: 1.0
    latency_weight: 0.5
  accuracy_criterion:
    absolute: 0.02
    higher_is_better: false
  objective: model_size
  exit_policy:
    timeout: 3600
    max_trials: 50
    performance_only: false

pruning:
  train:
    start_epoch: 0
    end_epoch: 4
  approach:
    weight_magnitude:
      initial_sparsity: 0.0
      target_sparsity: 0.97
"""

EXAMPLES = {
    "resnet50_tf": RESNET50_TF,
    "ssd_mobilenet_tf": SSD_MOBILENET_TF,
    "resnet50_onnx": RESNET50_ONNX,
    "bert_onnx_dynamic": BERT_ONNX_DYNAMIC,
    "resnet18_pytorch": RESNET18_PYTORCH,
    "mxnet_later_sections": MXNET_LATER_SECTIONS,
}


def _write(tmp_path: Path, text: str, name: str = "conf.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _load(tmp_path: Path, text: str) -> Config:
    return load_config(_write(tmp_path, text))


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message[len(path) + 2 :]


def test_resnet50_tensorflow(tmp_path):
    cfg = _load(tmp_path, RESNET50_TF)
    assert cfg.version == "1.0" and cfg.source == str(tmp_path / "conf.yaml")
    assert cfg.model == ModelConfig(
        name="resnet50_v1", framework="tensorflow", inputs=("input",), outputs=("predict",)
    )
    assert cfg.model.backend_name == "tensorflow" and cfg.model.framework_format is None
    q = cfg.quantization
    assert q.calibration.sampling_size == (50, 100)
    assert q.calibration.dataloader["dataset"] == {
        "ImageRecord": {"root": "/nonexistent/imagenet/calibration"}
    }
    assert list(q.calibration.dataloader["transform"]) == ["ParseDecodeImagenet", "ResizeCropImagenet"]
    assert q.model_wise == TensorRules(
        activation={"algorithm": ("minmax",)}, weight={"granularity": ("per_channel",)}
    )
    assert q.op_wise["v0/cg/conv0/conv2d/Conv2D"].activation == {"dtype": ("uint8", "fp32")}
    assert q.op_wise["v0/cg/affine0/xw_plus_b"] == TensorRules(
        activation={"dtype": ("fp32",)}, weight={"dtype": ("fp32",)}
    )
    assert cfg.evaluation.accuracy.metric == MetricConfig(name="topk", params={"k": 1})
    perf = cfg.evaluation.performance
    assert (perf.warmup, perf.iteration, perf.cores_per_instance, perf.num_of_instance) == (10, 100, 4, 7)
    assert perf.dataloader["last_batch"] == "discard"
    t = cfg.tuning
    assert t.accuracy_criterion == AccuracyCriterion(kind="relative", value=0.01)
    assert t.exit_policy == ExitPolicy(timeout=0.0, max_trials=100)
    assert t.random_seed == 9527 and t.tensorboard is True and cfg.tensorboard is False
    assert t.workspace == WorkspaceConfig(
        path="./lpot_workspace/resnet50/", resume="./lpot_workspace/resnet50/history.snapshot"
    )


def test_ssd_mobilenet_tensorflow(tmp_path):
    cfg = _load(tmp_path, SSD_MOBILENET_TF)
    assert cfg.model.outputs == ("num_detections", "detection_boxes", "detection_scores", "detection_classes")
    assert cfg.quantization.calibration.sampling_size == (10, 50, 100, 200)
    assert cfg.quantization.calibration.dataloader["transform"] is None  # raw: the data layer decides
    assert cfg.evaluation.accuracy.metric == MetricConfig(name="cocomap")
    assert cfg.evaluation.performance.extra == {"kmp_blocktime": 1}
    assert cfg.evaluation.performance.warmup == 5
    assert cfg.tuning.exit_policy.max_trials == 100


def test_resnet50_onnx_qlinearops(tmp_path):
    cfg = _load(tmp_path, RESNET50_ONNX)
    assert cfg.model.backend_name == "onnxrt" and cfg.model.framework_format == "qoperator"
    assert cfg.quantization.calibration.sampling_size == (50,)
    transform = cfg.quantization.calibration.dataloader["transform"]
    assert list(transform) == ["Rescale", "Resize", "CenterCrop", "Normalize", "Transpose", "Cast"]
    assert cfg.tuning.strategy.name == "basic" and cfg.tuning.strategy.params == {}
    assert cfg.tuning.accuracy_criterion.value == 0.02


def test_bert_onnx_integerops_dynamic(tmp_path):
    cfg = _load(tmp_path, BERT_ONNX_DYNAMIC)
    assert cfg.model.backend_name == "onnxrt" and cfg.model.framework_format == "integer"
    assert cfg.quantization.approach == "post_training_dynamic_quant"
    assert cfg.evaluation.accuracy.metric == MetricConfig(name="glue", params={"task": "mrpc"})
    assert cfg.evaluation.performance is None
    assert cfg.tuning.exit_policy.max_trials == 1000 and cfg.tuning.workspace.path == "./nc_workspace/bert/"


def test_resnet18_pytorch_higher_is_better(tmp_path):
    cfg = _load(tmp_path, RESNET18_PYTORCH)
    assert cfg.model.backend_name == "pytorch"
    assert cfg.tuning.accuracy_criterion == AccuracyCriterion(
        kind="relative", value=0.01, higher_is_better=True
    )
    assert cfg.quantization.model_wise.activation == {
        "dtype": ("uint8",),
        "scheme": ("asym",),
        "algorithm": ("kl",),
    }
    assert cfg.quantization.op_wise["layer4.1.conv2"].weight == {"dtype": ("fp32",)}
    assert cfg.tuning.workspace == WorkspaceConfig()  # `workspace:` with nothing: the default


def test_mxnet_with_later_sections(tmp_path):
    cfg = _load(tmp_path, MXNET_LATER_SECTIONS)
    assert cfg.model.backend_name == "mxnet" and cfg.tensorboard is True
    assert cfg.quantization.calibration.sampling_size == (40, 80)
    assert cfg.quantization.model_wise.activation == {"algorithm": ("minmax", "kl")}  # entropy is kl
    assert cfg.evaluation.accuracy.metric == MetricConfig(name="accuracy")
    assert cfg.evaluation.accuracy.postprocess == {"transform": {"LabelShift": -1}}
    assert cfg.evaluation.performance.iteration == -1
    assert cfg.tuning.strategy.params == {"accuracy_weight": 1.0, "latency_weight": 0.5}
    assert cfg.tuning.accuracy_criterion == AccuracyCriterion(
        kind="absolute", value=0.02, higher_is_better=False
    )
    assert cfg.tuning.objective == "model_size" and cfg.tuning.exit_policy.timeout == 3600.0
    assert cfg.extra_sections["pruning"]["approach"]["weight_magnitude"]["target_sparsity"] == 0.97


@pytest.mark.parametrize("text", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_to_dict_is_json_and_loads_back_equal(tmp_path, text):
    cfg = _load(tmp_path, text)
    data = cfg.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = load_config(data)
    assert again == cfg and again.hash() == cfg.hash() and again.source is None


# ---------------------------------------------------------------- Python input and defaults


def test_defaults(tmp_path):
    cfg = Config()
    assert load_config(None) == cfg == load_config({}) == _load(tmp_path, "# nothing yet\n")
    assert cfg.quantization.approach == "post_training_static_quant"
    assert cfg.quantization.calibration.sampling_size == (100,)
    assert cfg.tuning.strategy.name == "basic" and cfg.tuning.objective == "performance"
    assert cfg.tuning.accuracy_criterion == AccuracyCriterion(
        kind="relative", value=0.01, higher_is_better=None
    )
    assert cfg.tuning.exit_policy == ExitPolicy(timeout=0.0, max_trials=100)
    assert cfg.tuning.random_seed == 1978 and cfg.tuning.workspace.path == "./lpot_workspace"
    assert cfg.evaluation.accuracy is None and cfg.evaluation.performance is None
    assert cfg.model.framework is None and cfg.model.backend_name is None


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
        (lambda: ModelConfig(framework="caffe"), "ModelConfig.framework: expected one of"),
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
    cfg = _load(tmp_path, f"evaluation:\n  accuracy:\n    metric: {yaml_metric}\n")
    assert cfg.evaluation.accuracy.metric == MetricConfig(name=name, params=params)


@pytest.mark.parametrize(
    ("framework", "backend", "fmt"),
    [
        ("onnxrt_qlinearops", "onnxrt", "qoperator"),
        ("onnxrt_qdqops", "onnxrt", "qdq"),
        ("onnxrt_integerops", "onnxrt", "integer"),
        ("onnxruntime", "onnxrt", None),
        ("pytorch", "pytorch", None),
        ("pytorch_fx", "pytorch", None),
        ("pytorch_ipex", "pytorch", None),
        ("tensorflow", "tensorflow", None),
        ("keras", "tensorflow", None),
        ("mxnet", "mxnet", None),
        (None, None, None),
    ],
    ids=str,
)
def test_framework_names(framework, backend, fmt):
    model = ModelConfig(framework=framework)
    assert (model.backend_name, model.framework_format) == (backend, fmt)


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
    assert _error(tmp_path, text) == (
        "malformed YAML at line 3, column 14: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping started at line 2, column 23)"
    )


def test_tab_indentation_gets_a_hint(tmp_path):
    message = _error(tmp_path, "tuning:\n\trandom_seed: 1\n")
    assert message.startswith("malformed YAML at line 2, column 1: found character '\\t'")
    assert "indent with spaces, not tabs" in message


def test_duplicate_key_is_not_silently_dropped(tmp_path):
    text = "tuning:\n  exit_policy: {max_trials: 5}\n  random_seed: 1\n  exit_policy: {max_trials: 9}\n"
    assert _error(tmp_path, text).startswith(
        "duplicate key 'tuning.exit_policy' at line 4 (first at line 2); YAML would keep only the last one"
    )


def test_top_level_must_be_a_mapping(tmp_path):
    assert _error(tmp_path, "- model\n- tuning\n").startswith("the top level must be a mapping of sections")


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
    assert _error(tmp_path, text) == message


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
    assert _error(tmp_path, text) == message


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
        ("model: {framework: onnxrt_qlinear}\n", "model.framework: expected one of "),
        ("device: tpu\n", "device: expected one of cpu, gpu, got 'tpu'"),
    ],
    ids=["approach", "granularity", "dtype", "framework", "device"],
)
def test_bad_enum_values_list_the_allowed(tmp_path, text, message):
    assert _error(tmp_path, text).startswith(message)


def test_framework_typo_suggests_the_lpot_name(tmp_path):
    message = _error(tmp_path, "model: {framework: onnxrt_qlinear}\n")
    assert "onnxrt_qdqops" in message and message.endswith(
        "got 'onnxrt_qlinear'; did you mean 'onnxrt_qlinearops'?"
    )


def test_relative_and_absolute_together(tmp_path):
    text = "tuning:\n  accuracy_criterion: {relative: 0.01, absolute: 0.02}\n"
    assert _error(tmp_path, text) == (
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
    assert _error(tmp_path, f"tuning:\n  accuracy_criterion: {criterion}\n") == message


def test_percent_strings_as_in_lpot(tmp_path):
    cfg = _load(tmp_path, "tuning:\n  accuracy_criterion: {relative: 1%}\n")
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
    assert AccuracyCriterion(kind=kind, value=value).is_met(baseline, accuracy, hib) is met


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
    assert AccuracyCriterion(kind=kind, value=value).goal(baseline, hib) == pytest.approx(goal)


# ---------------------------------------------------------------- hash


def test_hash_is_stable_across_loads_sources_and_key_order(tmp_path):
    cfg = _load(tmp_path, RESNET50_TF)
    assert re.fullmatch(r"[0-9a-f]{64}", cfg.hash())
    assert cfg.hash() == load_config(_write(tmp_path, RESNET50_TF, "copy.yaml")).hash()
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
    cfg = _load(tmp_path, RESNET50_TF)
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
