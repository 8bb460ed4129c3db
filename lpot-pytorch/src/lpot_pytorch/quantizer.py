"""A recipe applied to the FP32 model: static (from cached ranges), dynamic, or QAT (user training)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from lpot.errors import ConfigError
from lpot.recipe import Recipe
from lpot_pytorch import fx
from lpot_pytorch.bf16 import to_bf16
from lpot_pytorch.capability import DYNAMIC, QAT
from lpot_pytorch.qconfig import dynamic_qconfig_spec


def quantize_static(
    model: nn.Module,
    recipe: Recipe,
    ranges: Mapping[str, tuple[float, float]],
    leaf_modules: Sequence[str] = (),
) -> nn.Module:
    prepared = fx.prepare(model, recipe, leaf_modules=leaf_modules)
    fx.set_ranges(prepared, ranges)
    return fx.convert(prepared, recipe)


def quantize_dynamic(model: nn.Module, recipe: Recipe) -> nn.Module:
    """Eager ``quantize_dynamic`` by module name: weights INT8 ahead of time, activations per batch."""
    fx._engine()
    work = copy.deepcopy(model).eval()
    with fx.quiet():
        quantized = torch.ao.quantization.quantize_dynamic(work, dynamic_qconfig_spec(recipe), inplace=False)
    leave_fused_transformer_path(quantized)
    return quantized


def leave_fused_transformer_path(model: nn.Module) -> None:
    """Route transformer layers with INT8 Linear inside through their module-by-module path.

    In eval mode ``nn.TransformerEncoderLayer`` / ``nn.TransformerEncoder`` take a fused native
    kernel that reads the float ``linear1.weight`` tensors; a dynamically quantized Linear has
    ``weight()`` instead and the fast path crashes. Both classes expose a plain attribute that
    their fast-path check reads; clearing it keeps the INT8 Linear kernels in use.
    """
    for module in model.modules():
        if isinstance(module, nn.TransformerEncoderLayer):
            if type(module.linear1) is not nn.Linear or type(module.linear2) is not nn.Linear:
                module.activation_relu_or_gelu = False
        elif isinstance(module, nn.TransformerEncoder):
            module.use_nested_tensor = False


def quantize_aware(
    model: nn.Module,
    recipe: Recipe,
    q_func: Callable[[nn.Module], Any] | None,
    leaf_modules: Sequence[str] = (),
) -> nn.Module:
    """prepare_qat -> the user's training loop (``q_func(model)``, in place) -> convert."""
    if q_func is None:
        raise ConfigError(
            "quant_aware_training needs a training function: tune(model, q_func=train, ...) where "
            "train(model) runs your training loop on the model it is given"
        )
    prepared = fx.prepare_qat(model, recipe, leaf_modules=leaf_modules)
    returned = q_func(prepared)
    if isinstance(returned, nn.Module):  # some training helpers return the trained model
        prepared = returned
    return fx.convert(prepared, recipe)


def quantize(
    model: nn.Module,
    recipe: Recipe,
    ranges: Mapping[str, tuple[float, float]],
    *,
    q_func: Callable[[nn.Module], Any] | None = None,
    leaf_modules: Sequence[str] = (),
) -> nn.Module:
    if recipe.approach == DYNAMIC:
        return quantize_dynamic(model, recipe)
    if recipe.approach == QAT:
        return quantize_aware(model, recipe, q_func, leaf_modules)
    if not recipe.quantized_ops():  # all FP32 or BF16: nothing to observe or convert
        out = copy.deepcopy(model).eval()
        to_bf16(out, [k.name for k, op in recipe.ops.items() if op.activation.dtype == "bf16"])
        return out
    return quantize_static(model, recipe, ranges, leaf_modules)
