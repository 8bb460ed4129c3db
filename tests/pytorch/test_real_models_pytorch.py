"""Issue 17, the PyTorch rows, on the zoo's real models (lean: a few batches, nothing downloaded)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lpot
from lpot_pytorch import fx
from lpot_pytorch.functional_layers import fusable, layer_padding
from lpot_pytorch.kernels import pack_for_speed, slow_on_fbgemm
from probes import int8_ops

pytest.importorskip("lpot_zoo")


def _config(tmp_path, approach: str = "post_training_static_quant", trials: int = 2, **sections) -> dict:
    return {
        **sections,
        "model": {"name": "zoo", "framework": "pytorch"},
        "quantization": {"approach": approach},
        "tuning": {
            "accuracy_criterion": {"relative": 0.01},
            "exit_policy": {"timeout": 0, "max_trials": trials},
            "workspace": {"path": str(tmp_path / "ws")},
        },
    }


@pytest.fixture(scope="module")
def efficientnet():
    from lpot_zoo.efficientnet import load_efficientnet_lite0

    return load_efficientnet_lite0()


def test_same_padding_conv_subclasses_become_plain_fused_convs(efficientnet):
    """Conv2dStaticSamePadding (F.conv2d in an nn.Conv2d subclass) -> nn.Conv2d that fuses with its BN."""
    from torch.ao.quantization.quantize_fx import fuse_fx

    stem = efficientnet._conv_stem
    assert type(stem) is not nn.Conv2d and layer_padding(stem) == (0, 1, 0, 1)  # TF "same", stride 2
    plain = fusable(copy.deepcopy(efficientnet))
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), efficientnet(x), rtol=1e-4, atol=1e-4)
    fused = fuse_fx(plain)
    kinds = {type(m).__name__ for m in fused.modules()}
    assert "Conv2dStaticSamePadding" not in kinds and "BatchNorm2d" not in kinds  # every BN folded
    assert sum(type(m) is nn.Conv2d for m in fused.modules()) == 49


def test_only_recognised_forwards_are_rewritten():
    class Scaled(nn.Conv2d):  # not a pad + the layer call: must be left alone
        def forward(self, x):
            return F.conv2d(x, self.weight * 2, self.bias)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = Scaled(3, 4, 3)

        def forward(self, x):
            return torch.relu(self.conv(x))

    net = Net().eval()
    assert layer_padding(net.conv) is None
    gm = fusable(copy.deepcopy(net))
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(gm(x), net(x))
    assert not any(n.target is torch.relu for n in gm.graph.nodes)  # torch.relu spelled F.relu


def test_efficientnet_tunes_int8_with_high_agreement(efficientnet, tmp_path):
    """Every trial runs; INT8 convs; top-1 agreement with FP32 on real photographs near ORT's 0.89."""
    from lpot_zoo.agreement import evaluate, top1_agreement, top1_labelled
    from lpot_zoo.photos import photo_loader
    from lpot_zoo.torch_run import predictor

    photos = top1_labelled(photo_loader(32, batch_size=16), predictor(efficientnet))
    calib = photo_loader(32, batch_size=16, seed=1)
    result = lpot.tune(
        efficientnet,
        q_dataloader=calib,
        eval_func=lambda m: evaluate(photos, predictor(m), top1_agreement),
        config=_config(tmp_path, trials=1),
        progress=False,
    )
    assert [t.status for t in result.trials] == ["ok"]
    assert len(int8_ops(result.model)) == 50  # 49 convs + the classifier
    assert not any(isinstance(m, nn.BatchNorm2d) for m in result.model.modules())  # folded, not quantized
    # 0.37 when the convs stayed functional (BN quantized after each), 0.03 with 8-bit activations
    # on AVX2 (FBGEMM saturates); about 0.8 with minmax here, ORT QDQ gets 0.89 on these photos
    assert result.trials[0].accuracy >= 0.7


def test_depthwise_convs_after_explicit_padding_are_packed_for_onednn(efficientnet):
    if "onednn" not in torch.backends.quantized.supported_engines:
        pytest.skip("this torch has no oneDNN quantized engine")
    from lpot_zoo.photos import photo_array

    x = torch.from_numpy(photo_array(4))
    prepared = fx.prepare_with(efficientnet, _x86_mapping(), (x,))
    fx.calibrate(prepared, [x])
    quantized = fx.convert(prepared)
    slow = [m for m in quantized.modules() if slow_on_fbgemm(m)]
    assert len(slow) == 4  # the stride-2 depthwise convs: asymmetric "same" padding stays a pad
    assert pack_for_speed(quantized) == 4
    with torch.no_grad():
        out = quantized(x)
    assert out.shape == (4, 1000)


def _x86_mapping():
    from torch.ao.quantization import get_default_qconfig_mapping

    return get_default_qconfig_mapping("x86")


def test_residual_torch_relu_fuses_conv_relu(tmp_path):
    """torch.relu between convs: lpot's graph has one ConvReLU2d per block (FX by hand has none)."""
    from lpot_zoo.shapes import digit_image_batches, residual_relu_net

    model = residual_relu_net()
    data = digit_image_batches(32, count=128)
    result = lpot.tune(
        model,
        q_dataloader=data.take(2),
        eval_dataloader=data,
        config=_config(tmp_path, trials=1, evaluation={"accuracy": {"metric": {"topk": 1}}}),
        progress=False,
    )
    kinds = [type(m).__name__ for m in result.model.modules()]
    assert kinds.count("ConvReLU2d") == 3  # the stem and each block's first conv
    relus = [
        n for n in result.model.graph.nodes if getattr(n.target, "__name__", n.target) in ("relu", "relu_")
    ]
    assert relus == []  # no quantized relu left between a conv and the next (add_relu is fused)
    assert len(int8_ops(result.model)) == 6


def test_minilm_dynamic_result_is_saved_and_rebuilt(tmp_path):
    from lpot_zoo.agreement import evaluate, mean_cosine, reference_labelled
    from lpot_zoo.minilm import embedding_predictor as embed
    from lpot_zoo.minilm import load_bert, sentence_loader

    from lpot.utils.pytorch import load

    bert = load_bert()
    data = reference_labelled(sentence_loader(8, batch_size=8), embed(bert))
    result = lpot.tune(
        bert,
        q_dataloader=data,
        eval_func=lambda m: evaluate(data, embed(m), mean_cosine),
        config=_config(tmp_path, "post_training_dynamic_quant", trials=1),
        progress=False,
    )
    saved = result.save(tmp_path / "out")
    assert saved.exists()
    again = load(tmp_path / "out", bert)
    assert int8_ops(again) == int8_ops(result.model) and len(int8_ops(again)) >= 36
    batch = data[0][0]
    np.testing.assert_allclose(embed(again)(batch), embed(result.model)(batch), rtol=1e-5, atol=1e-5)
