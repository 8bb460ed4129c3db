"""How to see low precision in a torch model: which modules compute in INT8/BF16, weight bytes."""

from __future__ import annotations

import torch
from torch import nn

from lpot_pytorch.bf16 import BF16Module


def int8_ops(model: nn.Module) -> set[str]:
    """Modules whose weights are stored as INT8 and that run torch's quantized kernels."""
    found = set()
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if callable(weight) and ".quantized" in type(module).__module__:
            w = weight()
            if isinstance(w, torch.Tensor) and w.is_quantized and w.dtype == torch.qint8:
                found.add(name)
        elif type(module).__name__ in ("DynamicQuantizedLSTM", "DynamicQuantizedGRU") or (
            ".quantized.dynamic" in type(module).__module__
        ):
            found.add(name)
    return found


def bf16_ops(model: nn.Module) -> set[str]:
    return {
        name
        for name, m in model.named_modules()
        if isinstance(m, BF16Module) and all(p.dtype == torch.bfloat16 for p in m.parameters())
    }


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the weights as stored: INT8 weights are 1 byte each, FP32 ones 4."""
    total = 0
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if callable(weight) and ".quantized" in type(module).__module__:
            w = weight()
            total += w.numel() * w.element_size()
        elif isinstance(weight, torch.Tensor):
            total += weight.numel() * weight.element_size()
    return total
