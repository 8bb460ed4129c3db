"""Per-op outputs of an FP32 or quantized model on the same inputs (for the MSE strategy, the
report's sensitivity chart and TensorBoard histograms).

A converted model's conv modules are fused with their BatchNorm and ReLU, so the FP32 side is
fused the same way first (``fuse_fx``): both sides then name the same module and compute the same
function, one in FP32 and one in INT8.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from lpot.recipe import OpKey
from lpot_pytorch.bf16 import BF16Module
from lpot_pytorch.fx import quiet
from lpot_pytorch.tensors import call, first_output, to_numpy


def is_converted(model: nn.Module) -> bool:
    """True for a model lpot (or torch.ao) has quantized or cast: it must not be fused or traced again."""
    return any(isinstance(m, BF16Module) or ".quantized" in type(m).__module__ for m in model.modules())


def comparable(model: nn.Module) -> nn.Module:
    from lpot_pytorch.pt2e import made_by_pt2e

    if is_converted(model) or made_by_pt2e(model) is not None:  # a pt2e graph neither copies nor fuses
        return model
    from torch.ao.quantization.quantize_fx import fuse_fx

    from lpot_pytorch.functional_layers import fusable

    try:
        with quiet():
            return fuse_fx(fusable(copy.deepcopy(model).eval()))
    except Exception:  # untraceable models are only quantized dynamically, which does not fuse
        return model


def inspect(model: nn.Module, inputs: Any, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    """Each op's output on one batch, read by forward hooks (``model`` already :func:`comparable`)."""
    names = {op.name for op in ops}
    modules = dict(model.named_modules())
    captured: dict[str, np.ndarray] = {}
    handles = []
    for name in (n for n in names if n in modules):

        def hook(_module: nn.Module, _inputs: Any, output: Any, name: str = name) -> None:
            captured[name] = to_numpy(first_output(output))

        handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.inference_mode():
            call(model, inputs)
    finally:
        for h in handles:
            h.remove()
    return captured


def op_weights(model: nn.Module, ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    """Weights as each op computes with them: INT8 weights dequantized, BF16 ones widened."""
    modules = dict(comparable(model).named_modules())
    out = {}
    for op in ops:
        module = modules.get(op.name)
        if isinstance(module, BF16Module):
            module = module.inner
        if isinstance(module, nn.Sequential) and len(module):  # fused FP32 conv-relu: the conv holds it
            module = module[0]
        weight = getattr(module, "weight", None)
        if callable(weight):  # quantized modules expose weight() as a method
            weight = weight()
        if isinstance(weight, torch.Tensor):
            out[op.name] = to_numpy(weight)
    return out
