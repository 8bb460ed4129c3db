"""What MXNet can quantize in a Gluon net, in lpot's seed capability format.

The list comes from MXNet itself: its quantization pass is run once over the fused graph with
nothing excluded, and every node it turns into a ``quantized_*`` node is a layer lpot may tune.
Layers are named by their FP32 node names (``conv0_fwd``), what ``exclude_layers`` accepts.

MXNet takes one ``quantized_dtype`` and one weight granularity per graph, so they are model-wise
options (``activation.dtype``, ``weight.granularity``); per op lpot applies INT8, BF16 or FP32 and
the calibration algorithm of the op's outputs. ``uint8`` means MXNet's ``auto`` (unsigned where the
calibrated tensor is non-negative, signed where it is not); MXNet's plain ``uint8`` would clip every
negative activation (input data, logits) to zero and is never the better choice, so it is not offered.

``bf16`` is offered for Convolution and FullyConnected layers (AMP's BF16 ops) only where the CPU
has native BF16 (``cpu_features().fast_bf16``) *and* MXNet's oneDNN measurably runs a BF16 conv
faster than FP32 here (:func:`lpot_mxnet.amx.bf16_is_fast`): MXNet 1.9.1's oneDNN uses AMX only
after :func:`lpot_mxnet.amx.enable_amx`, and its AVX512-BF16 kernels are slower than FP32.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lpot.isa import CpuFeatures, cpu_features
from lpot.recipe import Capability, OpCapability, OpKey, TensorChoices
from lpot_mxnet.calibration import INT8_SUFFIX
from lpot_mxnet.graph import BACKEND, WEIGHTED, layer_of, nodes, tail_outputs

STATIC = "post_training_static_quant"
ALGORITHMS = ("minmax", "kl")


def quantizable_layers(symbol: Any, data_names: list[str]) -> list[OpKey]:
    """Layers MXNet's own pass quantizes when nothing is excluded, in graph order."""
    import mxnet as mx
    from mxnet.contrib.quantization import _quantize_symbol

    fused = symbol.get_backend_symbol(BACKEND)
    params = [n for n in symbol.list_inputs() if n not in data_names]
    qsym, _ = _quantize_symbol(
        fused,
        mx.cpu(),
        excluded_symbols=[],
        excluded_operators=[],
        offline_params=params,
        quantized_dtype="auto",
        quantize_mode="full",
    )
    quantized = {n["name"] for n in nodes(qsym)}
    return [layer_of(n) for n in nodes(fused) if n["op"] != "null" and f"quantized_{n['name']}" in quantized]


def bf16_offered(cpu: CpuFeatures | None = None) -> bool:
    """BF16 in the space: native BF16 on the CPU and faster than FP32 through this MXNet build."""
    from lpot_mxnet.amx import bf16_is_fast

    cpu = cpu or cpu_features()
    return cpu.fast_bf16 and bf16_is_fast()


def op_capabilities(bf16: bool = False) -> tuple[OpCapability, OpCapability]:
    """(weighted layer, activation-only layer) choices per op for static quantization.

    oneDNN runs the same INT8 graph on AVX2 and VNNI CPUs (u8s8 kernels either way), so the INT8
    choices do not depend on the ISA. Weights are always symmetric INT8 and activations symmetric
    (uint8 with zero at 0), as MXNet quantizes them. With ``bf16``, conv/FC layers may also run in
    BF16 (what an op leaving INT8 then falls back to).
    """
    dtypes = ("int8", "bf16", "fp32") if bf16 else ("int8", "fp32")
    activation = TensorChoices(dtype=dtypes, algorithm=ALGORITHMS)
    # pooling and flatten pass their input's INT8 range through: no calibrated range of their own
    plain = TensorChoices(dtype=("int8", "fp32"))
    return OpCapability(activation=activation, weight=TensorChoices(dtype=("int8",))), OpCapability(
        activation=plain
    )


OPTIONS: dict[str, tuple[object, ...]] = {
    "activation.dtype": ("uint8", "int8"),  # MXNet's quantized_dtype: auto, int8
    "weight.granularity": ("per_tensor", "per_channel"),
}


def output_tensors(node: str) -> tuple[str, ...]:
    """The calibrated tensors of a (fused) graph node, as MXNet's monitor names them."""
    names = (f"{node}_output", f"{node}_output0")
    return (*names, *(n + INT8_SUFFIX for n in names))


def layer_tensors(fused: Any) -> dict[str, tuple[str, ...]]:
    """Layer name -> the calibrated outputs its algorithm ranges: those of the fused node computing it
    (a conv fused with its BN and ReLU is ``sg_mkldnn_conv_*``), by that name and by the FP32 op's.
    A layer whose output is the network's output is left out: that range is never used (the result
    leaves in float), so an algorithm chosen for it would build the same model."""
    import json

    graph = json.loads(fused.tojson())
    heads = {graph["nodes"][h[0]]["name"] for h in graph.get("heads", [])}
    tails = tail_outputs(fused)
    return {
        layer_of(n).name: _tensors_of(n["name"], tails)
        for n in nodes(fused)
        if n["op"] != "null" and n["name"] not in heads
    }


def _tensors_of(node: str, tails: dict[str, str]) -> tuple[str, ...]:
    """A node's calibrated outputs, a fused node's also by the name of the FP32 op computing them
    (what the quantizer looks up, :func:`lpot_mxnet.quantizer.thresholds`)."""
    tail = tails.get(f"{node}_output")
    own = output_tensors(node)
    return own if tail is None else (*own, *output_tensors(tail.removesuffix("_output")))


def build_capability_from_layers(
    layers: list[OpKey], bf16: bool = False, tensors: dict[str, tuple[str, ...]] | None = None
) -> Capability:
    weighted, plain = op_capabilities(bf16)
    tensors = dict(tensors or {})
    head = OpCapability(activation=replace(weighted.activation, algorithm=()), weight=weighted.weight)
    opwise = {
        layer: (plain if layer.op_type not in WEIGHTED else weighted if layer.name in tensors else head)
        for layer in layers
    }
    return Capability(opwise=opwise, approaches=(STATIC,), options=dict(OPTIONS), tensors=tensors)
