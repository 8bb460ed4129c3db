"""What lpot may choose for a model, in the seed capability format.

Ops are the layers with weights of a Keras model (see :mod:`lpot_tensorflow.layers`), by path,
typed by Keras class; for a SavedModel, the weighted ops of its TFLite graph, typed by TFLite op
(see :mod:`lpot_tensorflow.saved_model_graph`). TFLite's full-integer scheme is fixed: INT8
activations (asymmetric), INT8 symmetric weights. Per op lpot chooses INT8 or FP32; what TFLite
takes for the whole model is a model-wise option: ``weight.granularity`` (per-channel unless
per-tensor is asked for: one converter flag) and ``activation.algorithm`` (``minmax``, ``kl`` or
``percentile`` ranges; which tensors an op's ranges are is known only once the graph is converted).

The model-wise option ``format`` picks the recipe family:
- ``tflite``: full-integer TFLite (the default; real INT8 kernels, the speed path);
- ``keras_int8``: Keras' ``quantize("int8")`` on Dense/EinsumDense (weights INT8, activations per
  batch). It is smaller but was not faster than FP32, so it is offered only when the backend is told
  the objective is ``model_size`` or ``footprint`` (or the caller lists it in ``formats``).

The model-wise option ``int8_ops`` (``tflite`` only) says which ops run INT8: ``weighted``
quantizes the ops with weights (conv, FC) and leaves the weightless arithmetic (add, pooling,
softmax, layer norm, attention's activation x activation matmuls) in float; ``all`` quantizes every
op TFLite can. Measured side by side (``benchmarks/tensorflow_int8.py``, 2 cores): on a transformer
encoder ``weighted`` was 8.9x (b1) / 4.5x (b16) faster than FP32 Keras and ``all`` 1.2x / 0.48x
(INT8 attention, softmax and layer norm run on slow reference kernels); on a ResNet-18 ``all`` was
10.8x / 5.7x and ``weighted`` 10.0x / 5.1x. So the default (first value) is ``weighted`` for models
with attention, softmax or normalisation layers and ``all`` otherwise; the other stays in the space.

``post_training_dynamic_quant`` maps to ``keras_int8`` (its activations are quantized per batch).
A SavedModel has no Keras layers: only ``tflite`` applies, and the Keras approaches are errors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lpot.errors import ConfigError
from lpot.recipe import Capability, OpCapability, TensorChoices
from lpot_tensorflow.calibration import ALGORITHMS
from lpot_tensorflow.layers import KERAS_INT8
from lpot_tensorflow.sources import GraphSource, source_for

log = logging.getLogger("lpot")

STATIC = "post_training_static_quant"
DYNAMIC = "post_training_dynamic_quant"
QAT = "quant_aware_training"
FORMATS = ("tflite", "keras_int8")  # + "keras_bf16" where the CPU has native BF16 (mixed_precision)
SIZE_OBJECTIVES = ("model_size", "footprint")
INT8_OPS = ("weighted", "all")  # which TFLite ops run INT8 (module docstring); first = default


def op_capability(approach: str) -> OpCapability:
    """INT8 or FP32 per op; every other setting is model-wise (module docstring)."""
    return OpCapability(
        activation=TensorChoices(dtype=("int8", "fp32")), weight=TensorChoices(dtype=("int8",))
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
    source = source_for(model)
    if not source.keras_layers and approach != STATIC:
        raise ConfigError(keras_only(approach, source))
    ops = source.ops()
    if approach == DYNAMIC:
        ops = [op for op in ops if op.op_type in KERAS_INT8]
    cap = op_capability(approach)
    opwise = {op: cap for op in ops}
    options: dict[str, tuple[Any, ...]] = {}
    if approach == STATIC:
        if source.keras_layers:
            has_dense = any(op.op_type in KERAS_INT8 for op in ops)
            options = {"format": formats_for(has_dense, formats, objective)}
        else:
            options = {"format": graph_formats(source, formats_for(True, formats, objective))}
        options["int8_ops"] = INT8_OPS if source.has_attention() else INT8_OPS[::-1]
        options["activation.algorithm"] = ALGORITHMS
        options["weight.granularity"] = ("per_channel", "per_tensor")
    return Capability(
        opwise=opwise,
        approaches=(STATIC, DYNAMIC, QAT) if source.keras_layers else (STATIC,),
        options=options,
        # BF16 runs no INT8 op: tried after INT8 with op-wise fallback failed (budget mode: any time)
        last_resort={"format": ("keras_bf16",)},
    )


WHY_KERAS = {
    QAT: "it fake-quantizes and trains Keras layers",
    DYNAMIC: "it is Keras' quantize('int8') on Dense layers",
}
_told: set[tuple[str, tuple[str, ...]]] = set()


def keras_only(approach: str, source: GraphSource) -> str:
    return (
        f"quantization.approach: {approach!r} needs a Keras model ({WHY_KERAS.get(approach, 'Keras layers')}) "
        f"and {source.name} has no Keras layers: pass the keras.Model itself (keras.models.load_model on "
        "its .keras file), or tune the SavedModel with post_training_static_quant (TFLite INT8)"
    )


def graph_formats(source: GraphSource, offered: Sequence[str]) -> tuple[str, ...]:
    """``tflite`` only: the Keras families need layers. Says once per model which ones were left out."""
    dropped = tuple(f for f in offered if f != "tflite")
    if "tflite" not in offered:
        raise ConfigError(
            f"TensorFlowBackend(formats={tuple(offered)}): none of them applies to {source.name}, which "
            "has no Keras layers; use formats=('tflite',)"
        )
    if dropped and (source.name, dropped) not in _told:
        _told.add((source.name, dropped))
        log.warning(
            "%s: tuning TFLite INT8 only; %s and quantization-aware training need Keras layers "
            "(pass the keras.Model to have them)",
            source.name,
            ", ".join(dropped),
        )
    return ("tflite",)
