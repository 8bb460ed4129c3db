"""BF16 layers in an otherwise INT8/FP32 graph, through MXNet's AMP (``mxnet.contrib.amp``).

AMP rewrites the *unfused* FP32 symbol before quantization: ``convert_model`` with
``target_dtype="bfloat16"``, ``target_dtype_ops=["Convolution", "FullyConnected"]`` and every other
op node in ``excluded_sym_names`` except the BF16 layers and the BatchNorm/activation nodes right
after them, ReLU6 ``clip`` included (which oneDNN fuses into the conv: the fused node then runs wholly
in BF16, and is the one node calibration ranged). AMP puts
``amp_cast`` nodes at the borders, so INT8 and FP32 neighbours still receive FP32 tensors, and with
``cast_optional_params`` the BF16 layers' weights are stored in bfloat16. oneDNN's fusion and the
quantization pass then run on that graph as on a plain FP32 one. (AMP applied after quantization
would do nothing: its BF16 lists keep fused ``_sg_mkldnn_*`` nodes in FP32.)

A tensor the quantization pass asks to calibrate may now be an ``amp_cast`` back to FP32 of a BF16
layer's output; its range is that layer's FP32 range from the cached statistics (:func:`sources`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from lpot.errors import QuantizationError
from lpot_mxnet.graph import Graph, is_quantized, layer_of

BF16_OPS = ("Convolution", "FullyConnected")  # AMP's BF16_FUNCS in MXNet 1.9.1
# kept in BF16 after a BF16 layer (fused by oneDNN into the conv, ReLU6's clip included)
FOLLOWERS = ("BatchNorm", "Activation", "LeakyReLU", "clip")
AMP_CAST = "amp_cast"
MX_BFLOAT16 = "12"  # MXNet's type flag for bfloat16 (``__dtype__`` of a variable)


def full_nodes(symbol: Any) -> list[dict[str, Any]]:
    """A symbol's nodes including ``amp_cast`` (``tojson()`` drops them by default)."""
    return json.loads(symbol.tojson(remove_amp_cast=False))["nodes"]


def _kept_in_bf16(graph_nodes: list[dict[str, Any]], layers: set[str]) -> set[str]:
    consumers: dict[int, list[int]] = {}
    for i, node in enumerate(graph_nodes):
        for edge in node.get("inputs", ()):
            consumers.setdefault(edge[0], []).append(i)
    keep = set()
    for i, node in enumerate(graph_nodes):
        if node["name"] not in layers:
            continue
        keep.add(node["name"])
        j = i
        while len(consumers.get(j, ())) == 1 and graph_nodes[consumers[j][0]]["op"] in FOLLOWERS:
            j = consumers[j][0]
            keep.add(graph_nodes[j]["name"])
    return keep


def to_bf16(graph: Graph, layers: Iterable[str]) -> Graph:
    """``graph`` with ``layers`` (FP32 names of convs/FCs) computing in bfloat16, the rest untouched."""
    import mxnet as mx
    from mxnet.contrib import amp

    layers = set(layers)
    graph_nodes = full_nodes(graph.symbol)
    types = {n["name"]: n["op"] for n in graph_nodes if n["op"] != "null"}
    for name in sorted(layers):
        if name not in types:
            raise QuantizationError(f"bf16 layer {name!r} is not in the model's graph")
        if types[name] not in BF16_OPS:
            raise QuantizationError(
                f"layer {name!r} ({types[name]}) cannot run in bf16 through MXNet's AMP: "
                f"only {', '.join(BF16_OPS)} layers can"
            )
    keep = _kept_in_bf16(graph_nodes, layers)
    try:
        symbol, args, auxs = amp.convert_model(
            graph.symbol,
            dict(graph.args),
            dict(graph.auxs),
            target_dtype="bfloat16",
            target_dtype_ops=list(BF16_OPS),
            excluded_sym_names=[n for n in types if n not in keep],
            cast_optional_params=True,
        )
    except mx.base.MXNetError as exc:
        raise QuantizationError(
            f"MXNet's AMP could not convert {sorted(layers)} to bf16: {str(exc).strip().splitlines()[0]}"
        ) from exc
    return Graph(symbol=_fp32_outputs(symbol, keep), args=args, auxs=auxs, data_names=list(graph.data_names))


def _fp32_outputs(symbol: Any, keep: set[str]) -> Any:
    """Network outputs produced in BF16 cast back to FP32 (callers and metrics expect float32)."""
    import mxnet as mx

    graph = json.loads(symbol.tojson(remove_amp_cast=False))
    heads = [graph["nodes"][h[0]]["name"] for h in graph["heads"]]
    if not keep.intersection(heads):
        return symbol
    outs = [
        mx.sym.amp_cast(symbol[i], dtype="float32", name=f"{name}_output_amp_cast_float32")
        if name in keep
        else symbol[i]
        for i, name in enumerate(heads)
    ]
    return outs[0] if len(outs) == 1 else mx.sym.Group(outs)


def sources(symbol: Any) -> dict[str, str]:
    """``<amp_cast>_output`` -> the tensor it casts (through chained casts), whose range was calibrated.

    The cast keeps the name AMP gave it on the unfused graph (``conv1_relu_fwd_output_amp_cast_float32``)
    while after fusion it reads ``sg_mkldnn_conv_act_1_output``: the edge, not the name, is followed.
    """
    graph_nodes = full_nodes(symbol)
    outputs = symbol.get_internals().list_outputs()
    out = {}
    for node in graph_nodes:
        if node["op"] != AMP_CAST:
            continue
        source, index = node, 0
        while source["op"] == AMP_CAST:
            source, index = graph_nodes[source["inputs"][0][0]], source["inputs"][0][1]
        if source["op"] == "null":
            out[f"{node['name']}_output"] = source["name"]
            continue
        named = [o for o in outputs if o.startswith(f"{source['name']}_output")]
        out[f"{node['name']}_output"] = named[index] if index < len(named) else f"{source['name']}_output"
    return out


def bf16_layers(symbol: Any) -> set[str]:
    """FP32 names of the conv/FC layers that compute in bfloat16 in a (mixed) symbol.

    A layer is BF16 when it is not an INT8 node and its weight is a bfloat16 variable (AMP marks it
    ``__dtype__``) or its data arrives through an ``amp_cast`` to bfloat16; for a fused node, the
    conv/FC inside it is named.
    """
    graph_nodes = full_nodes(symbol)
    found = set()
    for node in graph_nodes:
        if node["op"] == "null" or is_quantized(node) or not node.get("inputs"):
            continue
        layer = layer_of(node)
        if layer.op_type not in BF16_OPS:
            continue
        inputs = [graph_nodes[e[0]] for e in node["inputs"]]
        weights = [n for n in inputs[1:] if n["op"] == "null"]
        first = inputs[0]
        if any(w.get("attrs", {}).get("__dtype__") == MX_BFLOAT16 for w in weights) or (
            first["op"] == AMP_CAST and first.get("attrs", {}).get("dtype") == "bfloat16"
        ):
            found.add(layer.name)
    return found


def bf16_names(recipe_ops: Mapping[Any, Any]) -> list[str]:
    """Names of the recipe's ops whose activation dtype is bf16."""
    return [k.name for k, c in recipe_ops.items() if c.activation.dtype == "bf16"]
