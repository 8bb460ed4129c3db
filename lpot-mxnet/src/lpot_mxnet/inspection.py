"""Per-layer outputs of an FP32 or quantized Gluon net, read through the symbol's internals.

Layers are found by FP32 name wherever they live: a node of that name, its ``quantized_`` twin, or
a fused ``_sg_mkldnn_*`` node computing it. The FP32 net is read after oneDNN's fusion too, so a
conv fused with its BatchNorm and ReLU is compared after them in both nets: like with like. INT8
outputs (data, min, max) are dequantized with MXNet's own ``dequantize`` operator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from lpot.data import split_batch
from lpot.recipe import OpKey
from lpot_mxnet.graph import (
    Graph,
    block_from_graph,
    export_graph,
    inner_nodes,
    is_quantized,
    nodes,
    to_ndarrays,
)


def _node_for(layer: str, graph_nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    for node in graph_nodes:
        if node["op"] == "null":
            continue
        if node["name"] in (layer, f"quantized_{layer}") or any(
            n["name"] == layer for n in inner_nodes(node)
        ):
            return node
    return None


def runnable_graph(model: Any) -> Graph:
    """The graph as oneDNN runs it: quantized graphs are already fused, FP32 ones are fused here."""
    graph = export_graph(model)
    if not any(is_quantized(n) for n in nodes(graph.symbol)):
        graph.symbol = graph.fused()
    return graph


def inspect(model: Any, dataloader: Iterable[Any], ops: Iterable[OpKey]) -> dict[str, np.ndarray]:
    import mxnet as mx

    graph = runnable_graph(model)
    graph_nodes = nodes(graph.symbol)
    internals = graph.symbol.get_internals()
    available = internals.list_outputs()
    wanted: dict[str, list[str]] = {}  # layer -> [output] or [data, min, max]
    for op in ops:
        node = _node_for(op.name, graph_nodes)
        if node is None:
            continue
        outs = [n for n in available if n.startswith(f"{node['name']}_output")]
        if not outs:
            continue
        wanted[op.name] = outs[:3] if is_quantized(node) and len(outs) >= 3 else outs[:1]
    if not wanted:
        return {}
    names = list(dict.fromkeys(n for outs in wanted.values() for n in outs))
    group = mx.sym.Group([internals[n] for n in names])
    probe = block_from_graph(group, graph.args, graph.auxs, graph.data_names)
    collected: dict[str, list[np.ndarray]] = {layer: [] for layer in wanted}
    for batch in dataloader:
        inputs, _ = split_batch(batch)
        results = probe(*to_ndarrays(inputs, graph.data_names))
        results = results if isinstance(results, (list, tuple)) else [results]
        values = dict(zip(names, results))
        for layer, outs in wanted.items():
            array = values[outs[0]]
            if len(outs) == 3:
                array = mx.nd.contrib.dequantize(array, values[outs[1]], values[outs[2]], out_type="float32")
            collected[layer].append(array.asnumpy().astype(np.float32))
    return {layer: np.concatenate(chunks) for layer, chunks in collected.items() if chunks}
