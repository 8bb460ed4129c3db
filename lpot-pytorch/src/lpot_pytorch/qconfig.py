"""From an lpot recipe to torch's QConfigMapping: one qconfig per module, ``None`` for FP32/BF16.

Three kinds of activation observer, by purpose:
- calibration (``calibration_mapping``): MinMaxObserver or HistogramObserver (KL-like search),
  every op INT8, so one pass observes every tensor any trial may need;
- quantization from cached statistics (``static_mapping``): MinMaxObserver whose ``min_val`` and
  ``max_val`` are then *set* from the Stats, never fed data (no recalibration);
- quantization-aware training (``qat_mapping``): moving-average FakeQuantize, learned while training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.ao.quantization import (
    FakeQuantize,
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
    QConfig,
    QConfigMapping,
)

from lpot.errors import QuantizationError
from lpot.recipe import OpConfig, OpKey, Recipe

ACT_QSCHEME = {"asym": torch.per_tensor_affine, "sym": torch.per_tensor_symmetric}


def _reduce_range(recipe: Recipe) -> bool:
    return bool(recipe.options.get("reduce_range", False))


def _weight_observer(op: OpConfig, qat: bool = False) -> Any:
    granularity = op.weight.granularity if op.weight and op.weight.granularity else "per_channel"
    if granularity == "per_channel":
        observer = MovingAveragePerChannelMinMaxObserver if qat else PerChannelMinMaxObserver
        kwargs = dict(dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0)
    else:
        observer = MovingAverageMinMaxObserver if qat else MinMaxObserver
        kwargs = dict(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
    if qat:
        return FakeQuantize.with_args(observer=observer, quant_min=-128, quant_max=127, **kwargs)
    return observer.with_args(**kwargs)


def _act_kwargs(op: OpConfig, reduce_range: bool) -> dict[str, Any]:
    """Observer arguments of an op's activation. torch refuses reduce_range for symmetric quint8
    ("Cannot reduce range for symmetric quantization"), so a symmetric op keeps the full range."""
    scheme = op.activation.scheme or "asym"
    if scheme not in ACT_QSCHEME:
        raise QuantizationError(f"activation scheme '{scheme}' is not one of {sorted(ACT_QSCHEME)}")
    return dict(
        dtype=torch.quint8, qscheme=ACT_QSCHEME[scheme], reduce_range=reduce_range and scheme == "asym"
    )


def op_qconfig(op: OpConfig, reduce_range: bool) -> QConfig:
    """The qconfig that quantizes ``op`` with activation ranges set later from cached statistics."""
    return QConfig(
        activation=MinMaxObserver.with_args(**_act_kwargs(op, reduce_range)), weight=_weight_observer(op)
    )


def qat_qconfig(op: OpConfig, reduce_range: bool) -> QConfig:
    kwargs = _act_kwargs(op, reduce_range)
    quant_max = 127 if kwargs.pop("reduce_range") else 255
    activation = FakeQuantize.with_args(
        observer=MovingAverageMinMaxObserver, quant_min=0, quant_max=quant_max, **kwargs
    )
    return QConfig(activation=activation, weight=_weight_observer(op, qat=True))


def _mapping(recipe: Recipe, make: Any) -> QConfigMapping:
    """Global qconfig from the first INT8 op (functional ops follow it); each op set by name."""
    mapping = QConfigMapping()
    quantized = [key for key in recipe.ops if recipe.op(key).is_quantized]
    if quantized:
        mapping.set_global(make(recipe.op(quantized[0])))
    for key in recipe.ops:
        op = recipe.op(key)
        mapping.set_module_name(key.name, make(op) if op.is_quantized else None)
    return mapping


def static_mapping(recipe: Recipe) -> QConfigMapping:
    rr = _reduce_range(recipe)
    return _mapping(recipe, lambda op: op_qconfig(op, rr))


def qat_mapping(recipe: Recipe) -> QConfigMapping:
    rr = _reduce_range(recipe)
    return _mapping(recipe, lambda op: qat_qconfig(op, rr))


def calibration_mapping(ops: Mapping[OpKey, OpConfig], algorithm: str) -> QConfigMapping:
    """Every op INT8 with the algorithm's observer: the superset of tensors any recipe observes."""
    if algorithm == "minmax":
        observer = MinMaxObserver.with_args(dtype=torch.quint8)
    elif algorithm == "kl":
        observer = HistogramObserver.with_args(dtype=torch.quint8)
    else:
        raise QuantizationError(
            f"calibration algorithm '{algorithm}' is not supported by PyTorch (minmax, kl)"
        )
    mapping = QConfigMapping()
    for key, op in ops.items():
        mapping.set_module_name(key.name, QConfig(activation=observer, weight=_weight_observer(op)))
    first = next(iter(ops.values()), None)
    if first is not None:
        mapping.set_global(QConfig(activation=observer, weight=_weight_observer(first)))
    return mapping


def dynamic_qconfig_spec(recipe: Recipe) -> dict[str, QConfig]:
    """``quantize_dynamic``'s per-module spec: names of the INT8 ops with their weight granularity."""
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

    spec = {}
    for key in recipe.quantized_ops():
        weight = recipe.op(key).weight
        per_channel = weight is not None and weight.granularity == "per_channel"
        spec[key.name] = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
    return spec
