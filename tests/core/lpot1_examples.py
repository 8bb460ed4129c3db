"""LPOT 1.x config files as users wrote them, and helpers that write/load/expect errors from YAML
text: shared by the config tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from lpot.config import Config, load_config
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


def write_yaml(tmp_path: Path, text: str, name: str = "conf.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def load_yaml(tmp_path: Path, text: str) -> Config:
    return load_config(write_yaml(tmp_path, text))


def yaml_error(tmp_path: Path, text: str) -> str:
    path = write_yaml(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message[len(path) + 2 :]
