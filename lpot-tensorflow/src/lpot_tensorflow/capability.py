"""What lpot may choose for a Keras model, in the seed capability format.

Ops are the layers with weights (see :mod:`lpot_tensorflow.layers`), by path, typed by Keras class.
TFLite's full-integer scheme is fixed: INT8 activations (asymmetric, min/max calibrated), INT8
symmetric weights, per-channel unless per-tensor is asked for (model-wise: one converter flag).

The model-wise option ``format`` picks the recipe family:
- ``tflite``: full-integer TFLite (the default; real INT8 kernels, the speed path);
- ``keras_int8``: Keras' ``quantize("int8")`` on Dense/EinsumDense (weights INT8, activations per
  batch). It is smaller but was not faster than FP32, so it is offered only when the backend is told
  the objective is ``model_size`` or ``footprint`` (or the caller lists it in ``formats``).

``post_training_dynamic_quant`` maps to ``keras_int8`` (its activations are quantized per batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lpot.recipe import Capability, OpCapability, OpKey, TensorChoices
from lpot_tensorflow.layers import KERAS_INT8, quantizable_layers

STATIC = "post_training_static_quant"
DYNAMIC = "post_training_dynamic_quant"
QAT = "quant_aware_training"
FORMATS = ("tflite", "keras_int8")  # + "keras_bf16" where the CPU has native BF16 (mixed_precision)
SIZE_OBJECTIVES = ("model_size", "footprint")


def op_capability(approach: str) -> OpCapability:
    if approach == DYNAMIC:
        return OpCapability(
            activation=TensorChoices(dtype=("int8", "fp32")),
            weight=TensorChoices(dtype=("int8",), scheme=("sym",), granularity=("per_channel",)),
        )
    return OpCapability(
        activation=TensorChoices(
            dtype=("int8", "fp32"), scheme=("asym",), algorithm=() if approach == QAT else ("minmax",)
        ),
        weight=TensorChoices(dtype=("int8",), scheme=("sym",), granularity=("per_channel", "per_tensor")),
    )


def formats_for(
    model_has_dense: bool, formats: Sequence[str] | None, objective: str | None
) -> tuple[str, ...]:
    if formats:
        return tuple(formats)
    from lpot_tensorflow.mixed_precision import offered

    bf16 = ("keras_bf16",) if offered() else ()  # native BF16 only: emulated BF16 is slower than FP32
    if model_has_dense and objective in SIZE_OBJECTIVES:
        return (*FORMATS, *bf16)
    return ("tflite", *bf16)


def build_capability(
    model: Any,
    approach: str = STATIC,
    *,
    formats: Sequence[str] | None = None,
    objective: str | None = None,
) -> Capability:
    layers = quantizable_layers(model)
    if approach == DYNAMIC:
        layers = [ref for ref in layers if ref.class_name in KERAS_INT8]
    cap = op_capability(approach)
    opwise = {OpKey(ref.path, ref.class_name): cap for ref in layers}
    optypewise: dict[str, OpCapability] = {}
    for key in opwise:
        optypewise.setdefault(key.op_type, cap)
    if approach == STATIC:
        has_dense = any(ref.class_name in KERAS_INT8 for ref in layers)
        options: dict[str, tuple[Any, ...]] = {"format": formats_for(has_dense, formats, objective)}
    else:
        options = {}
    return Capability(
        optypewise=optypewise,
        opwise=opwise,
        approaches=(STATIC, DYNAMIC, QAT),
        options=options,
        # BF16 runs no INT8 op: tried after INT8 with op-wise fallback failed (budget mode: any time)
        last_resort={"format": ("keras_bf16",)},
    )
