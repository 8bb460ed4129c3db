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


class Probe:
    """A block that outputs each requested layer's tensor (dequantized when INT8)."""

    def __init__(self, model: Any, ops: Iterable[OpKey]) -> None:
        import mxnet as mx

        graph = runnable_graph(model)
        graph_nodes = nodes(graph.symbol)
        internals = graph.symbol.get_internals()
        available = internals.list_outputs()
        self.wanted: dict[str, list[str]] = {}  # layer -> [output] or [data, min, max]
        for op in ops:
            node = _node_for(op.name, graph_nodes)
            if node is None:
                continue
            outs = [n for n in available if n.startswith(f"{node['name']}_output")]
            if outs:
                self.wanted[op.name] = outs[:3] if is_quantized(node) and len(outs) >= 3 else outs[:1]
        self.names = list(dict.fromkeys(n for outs in self.wanted.values() for n in outs))
        self.data_names = graph.data_names
        self.block = None
        if self.names:
            group = mx.sym.Group([internals[n] for n in self.names])
            self.block = block_from_graph(group, graph.args, graph.auxs, graph.data_names)

    def run(self, inputs: Any) -> dict[str, np.ndarray]:
        import mxnet as mx

        if self.block is None:
            return {}
        results = self.block(*to_ndarrays(inputs, self.data_names))
        values = dict(zip(self.names, results if isinstance(results, (list, tuple)) else [results]))
        out = {}
        for layer, outs in self.wanted.items():
            array = values[outs[0]]
            if len(outs) == 3:
                array = mx.nd.contrib.dequantize(array, values[outs[1]], values[outs[2]], out_type="float32")
            out[layer] = array.asnumpy().astype(np.float32)
        return out
