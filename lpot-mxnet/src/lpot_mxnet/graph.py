"""The symbolic graph behind a Gluon block, and how its names map to what users call layers.

lpot works on MXNet's graph, not on Python objects: a block is exported (``export`` +
``load_checkpoint``, the path MXNet's own ``quantize_net`` takes) into a symbol and its parameters.
oneDNN fuses Convolution+BatchNorm+ReLU (and FullyConnected+ReLU) into ``_sg_mkldnn_*`` nodes
whose names (``sg_mkldnn_conv_bn_act_0``) nobody chose; the layers users know, and that
``exclude_layers`` accepts, are the FP32 nodes inside (``conv0_fwd``). This module maps one to the
other so recipes speak in FP32 layer names.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lpot.errors import DataError, ModelError
from lpot.recipe import OpKey

BACKEND = "MKLDNN_QUANTIZE"  # the subgraph pass MXNet's quantization flow fuses with
WEIGHTED = ("Convolution", "FullyConnected")
FUSED = {"_sg_mkldnn_conv": "Convolution", "_sg_mkldnn_fully_connected": "FullyConnected"}


@dataclass
class Graph:
    """An FP32 (or quantized) network as MXNet stores it: symbol, parameters, input names."""

    symbol: Any
    args: dict[str, Any]
    auxs: dict[str, Any]
    data_names: list[str]

    def fused(self) -> Any:
        """The symbol after oneDNN's fusion pass; node names there are stable for one graph."""
        return self.symbol.get_backend_symbol(BACKEND)


def block_name(block: Any) -> str:
    return f"{type(block).__name__} {getattr(block, 'name', '') or getattr(block, 'prefix', '')!r}"


def has_graph(block: Any) -> bool:
    return bool(getattr(block, "_cached_graph", ()))


def trace(block: Any, sample: Any = None) -> None:
    """Make sure ``block`` has a cached symbolic graph (hybridized and run once).

    A user's trained net usually has one; a fresh one is run on ``sample`` (one real batch), which
    also settles deferred parameter shapes.
    """
    import mxnet as mx

    if has_graph(block):
        return
    if not isinstance(block, mx.gluon.HybridBlock):
        raise ModelError(
            f"{block_name(block)} is a gluon.Block, not a HybridBlock: lpot quantizes MXNet's symbolic "
            "graph; build the net from HybridBlocks (nn.HybridSequential, hybrid_forward) and retry"
        )
    block.hybridize()
    if sample is None:
        return
    try:
        block(*to_ndarrays(sample, None))
    except mx.base.MXNetError as exc:
        raise ModelError(f"{block_name(block)} failed on a batch of the data: {_first_line(exc)}") from exc


def symbol_of(block: Any) -> Any:
    """The FP32 symbol of a block, traced symbolically when it never ran (shapes not needed)."""
    import mxnet as mx

    trace(block)
    if has_graph(block):
        return block._cached_graph[1]
    try:
        out = block(mx.sym.var("data"))
    except Exception as exc:  # a hybrid_forward that calls NDArray-only code cannot be traced
        raise ModelError(
            f"{block_name(block)} cannot be hybridized (symbolic tracing failed: {type(exc).__name__}: "
            f"{_first_line(exc)}); run it once on real data after hybridize(), or make every child a "
            "HybridBlock whose hybrid_forward only uses F.* operators"
        ) from exc
    return out[0] if isinstance(out, (list, tuple)) else out


def export_graph(block: Any) -> Graph:
    """Symbol and parameters of a block that has run, via MXNet's own export files."""
    import mxnet as mx

    if not has_graph(block):
        raise ModelError(
            f"{block_name(block)} has not run yet: call it once on a batch (after hybridize()) so its "
            "parameters have shapes, or pass calibration data first"
        )
    with tempfile.TemporaryDirectory(prefix="lpot-mx-") as tmp:
        prefix = os.path.join(tmp, "net")
        try:
            save_files(block, Path(prefix))
        except Exception as exc:
            raise ModelError(f"{block_name(block)} could not be exported: {_first_line(exc)}") from exc
        symbol, args, auxs = mx.model.load_checkpoint(prefix, 0)
    data = [n for n in symbol.list_inputs() if n not in args and n not in auxs]
    return Graph(symbol=symbol, args=args, auxs=auxs, data_names=data)


def block_from_graph(
    symbol: Any, args: Mapping[str, Any], auxs: Mapping[str, Any], data_names: list[str]
) -> Any:
    """A Gluon SymbolBlock running ``symbol``, its (possibly INT8) parameters loaded as saved."""
    import mxnet as mx

    net = mx.gluon.SymbolBlock(symbol, [mx.sym.var(n) for n in data_names])
    with tempfile.TemporaryDirectory(prefix="lpot-mx-") as tmp:
        file = os.path.join(tmp, "net.params")
        saved = {f"arg:{k}": v.as_in_context(mx.cpu()) for k, v in args.items()}
        saved.update({f"aux:{k}": v.as_in_context(mx.cpu()) for k, v in auxs.items()})
        mx.nd.save(file, saved)
        net.collect_params().load(file, cast_dtype=True, dtype_source="saved", ignore_extra=True)
    return net


def nodes(symbol: Any) -> list[dict[str, Any]]:
    return json.loads(symbol.tojson())["nodes"]


def inner_nodes(node: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Op nodes inside a fused node's subgraphs (recursively), the FP32 layers it computes."""
    for sub in node.get("subgraphs", ()):
        for inner in sub["nodes"]:
            if inner["op"] != "null":
                yield inner
                yield from inner_nodes(inner)


def layer_of(node: Mapping[str, Any]) -> OpKey:
    """The FP32 layer a (fused) node stands for: the conv/FC inside a fused node, else itself."""
    wanted = FUSED.get(node["op"])
    if wanted is not None:
        for inner in inner_nodes(node):
            if inner["op"] == wanted:
                return OpKey(inner["name"], wanted)
    return OpKey(node["name"], node["op"])


def tail_outputs(fused: Any) -> dict[str, str]:
    """``<fused node>_output`` -> ``<last op inside it>_output``: one tensor, by the name it has in
    the unfused FP32 graph, which calibration ranges. Which ops oneDNN fuses depends on the graph
    (a BF16 conv whose add stayed FP32 fuses conv+BN, not conv+BN+add), so a fused node's own name
    says nothing stable; the op computing its output does."""
    out = {}
    for node in nodes(fused):
        for sub in node.get("subgraphs", ())[:1]:
            heads = sub.get("heads", ())
            inner = sub["nodes"][heads[0][0]] if heads else None
            if inner is not None and inner["op"] != "null":
                out[f"{node['name']}_output"] = f"{inner['name']}_output"
    return out


def is_quantized(node: Mapping[str, Any]) -> bool:
    """True for nodes that compute on INT8/UINT8 data in oneDNN."""
    op = node["op"]
    if op.startswith("_contrib_quantized_"):
        return True
    return op.startswith("_sg_mkldnn_") and str(node.get("attrs", {}).get("quantized", "")).lower() == "true"


def int8_layers(symbol: Any) -> set[str]:
    """FP32 names of the layers that compute in INT8 in a (quantized) symbol."""
    found = set()
    for node in nodes(symbol):
        if not is_quantized(node):
            continue
        if node.get("subgraphs"):
            found.update(n["name"] for n in inner_nodes(node))
        else:
            found.add(node["name"].removeprefix("quantized_"))
    return found


def to_ndarrays(inputs: Any, data_names: list[str] | None) -> list[Any]:
    """NDArrays for a block call from a batch's inputs: an array, a list of arrays or a dict by name."""
    import mxnet as mx

    if isinstance(inputs, dict):
        if data_names is None:
            values = list(inputs.values())
        else:
            missing = [n for n in data_names if n not in inputs]
            if missing:
                raise DataError(f"batch has no input named {missing[0]!r}; the model expects {data_names}")
            values = [inputs[n] for n in data_names]
    elif isinstance(inputs, (list, tuple)) and data_names is not None and len(data_names) > 1:
        values = list(inputs)
    else:
        values = [inputs]
    out = []
    for value in values:
        if isinstance(value, mx.nd.NDArray):
            out.append(value.astype("float32") if value.dtype != np.float32 else value)
        else:
            out.append(mx.nd.array(np.asarray(value, dtype=np.float32)))
    return out


def save_files(block: Any, prefix: Path) -> tuple[Path, Path]:
    """``<prefix>-symbol.json`` and ``<prefix>-0000.params`` in MXNet's export format, never pickle.

    Written here rather than by ``HybridBlock.export``, which saves only the parameters of a block
    that has already run (its cached op's list) and would write an empty file for a fresh
    SymbolBlock; the files are the same and load with ``SymbolBlock.imports``.
    """
    import mxnet as mx

    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    symbol = block._cached_graph[1]
    sym_file, params_file = Path(f"{prefix}-symbol.json"), Path(f"{prefix}-0000.params")
    symbol.save(str(sym_file), remove_amp_cast=False)  # the graph as it runs
    args, auxs = set(symbol.list_arguments()), set(symbol.list_auxiliary_states())
    saved = {}
    for param in block.collect_params().values():
        if param.name in args:
            saved[f"arg:{param.name}"] = param.data(mx.cpu())
        elif param.name in auxs:
            saved[f"aux:{param.name}"] = param.data(mx.cpu())
    mx.nd.save(str(params_file), saved)
    return sym_file, params_file


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return next((line for line in text if line.strip() and not line.startswith("Stack trace")), repr(exc))
