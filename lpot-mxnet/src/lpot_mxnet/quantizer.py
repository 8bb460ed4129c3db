"""Apply a lpot Recipe with MXNet's quantization pass and precomputed thresholds.

The steps are ``quantize_net_v2``'s minus its calibration run: fuse for oneDNN, ``quantize_graph``
(here its core, ``_quantize_symbol``) with the FP32-fallback layers as ``excluded_symbols``, set
the thresholds of every tensor the pass asks to calibrate from the run's cached :class:`Stats`,
quantize the weights, fuse again (requantize into the conv), and wrap the result in a SymbolBlock.
A trial costs a graph rewrite, not a pass over the calibration data.

Ops whose recipe dtype is ``bf16`` are first turned to bfloat16 by MXNet's AMP on the unfused FP32
graph (:mod:`lpot_mxnet.bf16`), so one graph can hold INT8, BF16 and FP32 layers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from lpot.errors import QuantizationError
from lpot.recipe import OpKey, Recipe
from lpot_mxnet.bf16 import bf16_names, sources, to_bf16
from lpot_mxnet.calibration import INT8_SUFFIX
from lpot_mxnet.graph import BACKEND, Graph, block_from_graph, tail_outputs

GRANULARITY = {"per_tensor": "tensor-wise", "per_channel": "channel-wise"}
_OUTPUT = re.compile(r"_output\d*$")


def settings(recipe: Recipe) -> dict[str, str]:
    """MXNet's graph-wide arguments: the recipe's model-wise options."""
    dtype = recipe.options.get("activation.dtype", "uint8")
    return {
        "quantized_dtype": "auto" if dtype == "uint8" else "int8",
        "quantize_granularity": GRANULARITY[recipe.options.get("weight.granularity", "per_tensor")],
    }


def thresholds(
    names: Sequence[str],
    ranges: Mapping[str, tuple[float, float]],
    s: Mapping[str, str],
    casts: Mapping[str, str] | None = None,
    tails: Mapping[str, str] | None = None,
) -> dict[str, tuple[float, float]]:
    """The (min, max) of every tensor MXNet's pass wants calibrated, from the ranges lpot chose.

    ``casts`` maps AMP casts back to FP32 (of BF16 layers' outputs) to the tensor they cast;
    ``tails`` (:func:`lpot_mxnet.graph.tail_outputs` of the graph being quantized) names a fused
    node's output by the FP32 op computing it, as calibration (on the unfused graph) recorded it,
    however this graph happens to be fused. With ``int8`` activations a non-negative tensor takes
    its signed-search range (``name@int8``) where the KL calibration kept one.
    """
    out = {}
    for wanted in names:
        name = (casts or {}).get(wanted, wanted)
        name = (tails or {}).get(name, name)
        key = name + INT8_SUFFIX if s["quantized_dtype"] == "int8" and name + INT8_SUFFIX in ranges else name
        if key not in ranges:
            layer = _OUTPUT.sub("", name)
            raise QuantizationError(
                f"no calibrated range for tensor {name!r} (layer {layer}): the statistics were "
                "collected on a different model; calibrate this model again"
            )
        low, high = ranges[key]
        out[wanted] = (float(low), float(high))
    return out


def quantize(
    graph: Graph, layers: Sequence[OpKey], recipe: Recipe, ranges: Mapping[str, tuple[float, float]]
) -> Any:
    """A SymbolBlock computing ``recipe``'s quantized layers in oneDNN INT8, its bf16 layers in
    BF16 and the others in FP32."""
    import mxnet as mx
    from mxnet.contrib.quantization import _calibrate_quantized_sym, _quantize_params, _quantize_symbol

    bf16 = bf16_names(recipe.ops)
    if bf16:
        graph = to_bf16(graph, bf16)
    if not recipe.quantized_ops():
        return block_from_graph(graph.fused(), graph.args, graph.auxs, graph.data_names)
    if not ranges:
        raise QuantizationError("static quantization needs calibration statistics; none were given")
    wanted = {k.name for k in recipe.quantized_ops()}
    excluded = [k.name for k in layers if k.name not in wanted]
    s = settings(recipe)
    fused = graph.fused()
    try:
        qsym, calib_names = _quantize_symbol(
            fused,
            mx.cpu(),
            excluded_symbols=excluded,
            excluded_operators=[],
            offline_params=list(graph.args),
            quantized_dtype=s["quantized_dtype"],
            quantize_mode="full",
            quantize_granularity=s["quantize_granularity"],
        )
        th = thresholds(calib_names, ranges, s, sources(fused) if bf16 else None, tail_outputs(fused))
        qsym = _calibrate_quantized_sym(qsym, th)
        qargs = _quantize_params(qsym, graph.args, th)
        qsym = qsym.get_backend_symbol(BACKEND)
        return block_from_graph(qsym, qargs, graph.auxs, graph.data_names)
    except QuantizationError:
        raise
    except mx.base.MXNetError as exc:
        raise QuantizationError(
            f"MXNet could not quantize with {s}, BF16 layers {bf16} and FP32 layers {excluded}: {str(exc).strip().splitlines()[0]}"
        ) from exc
