"""LPOT 1.x files load unchanged and round-trip through to_dict."""

from __future__ import annotations

import json

import pytest
from lpot1_examples import (
    BERT_ONNX_DYNAMIC,
    EXAMPLES,
    MXNET_LATER_SECTIONS,
    RESNET18_PYTORCH,
    RESNET50_ONNX,
    RESNET50_TF,
    SSD_MOBILENET_TF,
    load_yaml,
)

from lpot.config import (
    AccuracyCriterion,
    ExitPolicy,
    MetricConfig,
    ModelConfig,
    TensorRules,
    WorkspaceConfig,
    load_config,
)


def test_resnet50_tensorflow(tmp_path):
    cfg = load_yaml(tmp_path, RESNET50_TF)
    assert cfg.version == "1.0" and cfg.source == str(tmp_path / "conf.yaml")
    assert cfg.model == ModelConfig(
        name="resnet50_v1", framework="tensorflow", inputs=("input",), outputs=("predict",)
    )
    assert cfg.model.framework == "tensorflow"
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
    assert t.workspace == WorkspaceConfig(path="./lpot_workspace/resnet50/")  # resume: LPOT's pickle, ignored


def test_ssd_mobilenet_tensorflow(tmp_path):
    cfg = load_yaml(tmp_path, SSD_MOBILENET_TF)
    assert cfg.model.outputs == ("num_detections", "detection_boxes", "detection_scores", "detection_classes")
    assert cfg.quantization.calibration.sampling_size == (10, 50, 100, 200)
    assert cfg.quantization.calibration.dataloader["transform"] is None  # raw: the data layer decides
    assert cfg.evaluation.accuracy.metric == MetricConfig(name="cocomap")
    assert cfg.evaluation.performance.extra == {"kmp_blocktime": 1}
    assert cfg.evaluation.performance.warmup == 5
    assert cfg.tuning.exit_policy.max_trials == 100


def test_resnet50_onnx_qlinearops(tmp_path):
    cfg = load_yaml(tmp_path, RESNET50_ONNX)
    assert cfg.model.framework == "onnxrt_qlinearops"
    assert cfg.quantization.calibration.sampling_size == (50,)
    transform = cfg.quantization.calibration.dataloader["transform"]
    assert list(transform) == ["Rescale", "Resize", "CenterCrop", "Normalize", "Transpose", "Cast"]
    assert cfg.tuning.strategy.name == "basic" and cfg.tuning.strategy.params == {}
    assert cfg.tuning.accuracy_criterion.value == 0.02


def test_bert_onnx_integerops_dynamic(tmp_path):
    cfg = load_yaml(tmp_path, BERT_ONNX_DYNAMIC)
    assert cfg.model.framework == "onnxrt_integerops"
    assert cfg.quantization.approach == "post_training_dynamic_quant"
    assert cfg.evaluation.accuracy.metric == MetricConfig(name="glue", params={"task": "mrpc"})
    assert cfg.evaluation.performance is None
    assert cfg.tuning.exit_policy.max_trials == 1000 and cfg.tuning.workspace.path == "./nc_workspace/bert/"


def test_resnet18_pytorch_higher_is_better(tmp_path):
    cfg = load_yaml(tmp_path, RESNET18_PYTORCH)
    assert cfg.model.framework in ("pytorch", "pytorch_fx")
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
    cfg = load_yaml(tmp_path, MXNET_LATER_SECTIONS)
    assert cfg.model.framework == "mxnet" and cfg.tensorboard is True
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
    cfg = load_yaml(tmp_path, text)
    data = cfg.to_dict()
    assert json.loads(json.dumps(data)) == data
    again = load_config(data)
    assert again == cfg and again.hash() == cfg.hash() and again.source is None
