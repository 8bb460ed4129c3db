"""The model shapes users write, small and seeded, trained for a few seconds where accuracy matters.

- :func:`residual_relu_net`: residual blocks that call ``torch.relu`` / ``F.relu`` between convs
  (functional activations, not modules), then ``flatten`` and a Linear;
- :func:`same_pad_conv_net`: convolutions that are ``nn.Conv2d`` subclasses padding "same" and
  calling ``F.conv2d`` in ``forward`` (EfficientNet's ``Conv2dStaticSamePadding``), BN and ReLU6;
- :func:`keyword_encoder`: a Hugging Face-style text encoder, ``forward(input_ids=...,
  attention_mask=...)`` returning a dict (or a transformers ``ModelOutput``).
The two conv nets take 1x32x32 digits (:func:`lpot_zoo.digits.digit_images`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lpot_zoo.digits import digit_images, digits_split


class ResidualBlock(nn.Module):
    """conv-bn-relu-conv-bn + skip, relu: the activations are calls, not modules."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class ResidualReluNet(nn.Module):
    def __init__(self, channels: int = 32, blocks: int = 2, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.blocks = nn.Sequential(*(ResidualBlock(channels) for _ in range(blocks)))
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(channels * 16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn(self.stem(x)))
        x = self.pool(self.blocks(x))
        return self.fc(torch.flatten(x, 1))


class SamePadConv2d(nn.Conv2d):
    """TensorFlow-style "same" padding computed for a fixed input size, applied in ``forward``."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, *, image: int, **kw: Any) -> None:
        super().__init__(cin, cout, kernel, stride, padding=0, **kw)
        out = math.ceil(image / stride)
        total = max((out - 1) * stride + kernel - image, 0)
        self.pad = (total // 2, total - total // 2) * 2  # left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, self.pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class SamePadConvNet(nn.Module):
    """Stem, a depthwise-separable pair and a strided conv, all ``SamePadConv2d`` + BN + ReLU6."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = SamePadConv2d(1, 16, 3, 2, image=32, bias=False)
        self.bn0 = nn.BatchNorm2d(16)
        self.depthwise = SamePadConv2d(16, 16, 3, 1, image=16, groups=16, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.project = SamePadConv2d(16, 32, 1, 1, image=16, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.down = SamePadConv2d(32, 64, 5, 2, image=16, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.act = nn.ReLU6()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.bn0(self.stem(x)))
        x = self.act(self.bn1(self.depthwise(x)))
        x = self.act(self.bn2(self.project(x)))
        x = self.act(self.bn3(self.down(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def train_on_digits(model: nn.Module, *, epochs: int = 4, seed: int = 0, size: int = 32) -> nn.Module:
    """A few epochs of Adam on the digits' training split (about a second per epoch)."""
    x_train, y_train, _, _ = digits_split(seed)
    x = torch.from_numpy(digit_images(x_train, size))
    y = torch.from_numpy(y_train)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def _trained(model: nn.Module, name: str, seed: int) -> nn.Module:
    """``model`` trained on digits once per torch version and seed, then read back from the cache."""
    from lpot_zoo.cache import cached_file

    def build(path: Any) -> None:
        torch.save(train_on_digits(model, seed=seed).state_dict(), path)

    path = cached_file(f"{name}.pt", ("torch",), build, extra=f"seed={seed}")
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def residual_relu_net(seed: int = 0, *, trained: bool = True) -> ResidualReluNet:
    torch.manual_seed(seed)
    model = ResidualReluNet()
    return _trained(model, "residual_relu_net", seed) if trained else model.eval()


def same_pad_conv_net(seed: int = 0, *, trained: bool = True) -> SamePadConvNet:
    torch.manual_seed(seed)
    model = SamePadConvNet()
    return _trained(model, "same_pad_conv_net", seed) if trained else model.eval()


class KeywordEncoder(nn.Module):
    """Embeddings, self-attention with an additive padding mask, a GELU feed-forward and LayerNorms;
    ``forward(input_ids=..., attention_mask=...)`` returns ``last_hidden_state`` and ``pooler_output``
    (the masked mean) by name, as transformers models do."""

    def __init__(
        self, vocab: int = 30522, dim: int = 64, heads: int = 4, *, model_output: bool = False
    ) -> None:
        super().__init__()
        self.heads = heads
        self.model_output = model_output
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(512, dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, 4 * dim)
        self.ff2 = nn.Linear(4 * dim, dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Any:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        batch, length = input_ids.shape
        positions = torch.arange(length, device=input_ids.device)
        x = self.embed(input_ids) + self.position(positions)
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        scores = scores + (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, length, -1)
        x = self.norm1(x + self.out(context))
        x = self.norm2(x + self.ff2(F.gelu(self.ff1(x))))
        mask = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if self.model_output:
            from transformers.modeling_outputs import BaseModelOutputWithPooling

            return BaseModelOutputWithPooling(last_hidden_state=x, pooler_output=pooled)
        return {"last_hidden_state": x, "pooler_output": pooled}


def keyword_encoder(seed: int = 0, *, model_output: bool = False) -> KeywordEncoder:
    """Seeded random weights (its metric is agreement with itself in FP32, so no training)."""
    torch.manual_seed(seed)
    return KeywordEncoder(model_output=model_output).eval()


def digit_image_batches(batch_size: int = 32, count: int | None = None) -> Any:
    """Validation digits as 1x32x32 images with real labels, for the two conv nets."""
    from lpot_zoo.digits import digits_loader

    return digits_loader(batch_size, count=count, images=32)


__all__ = [
    "KeywordEncoder",
    "ResidualReluNet",
    "SamePadConvNet",
    "digit_image_batches",
    "keyword_encoder",
    "residual_relu_net",
    "same_pad_conv_net",
    "train_on_digits",
]
