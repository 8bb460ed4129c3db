"""Recognizing, loading, fingerprinting, sizing and writing Gluon models (MXNet export files only).

A model on disk is MXNet's export pair ``<prefix>-symbol.json`` + ``<prefix>-0000.params``,
loaded with ``SymbolBlock.imports``; lpot never pickles a model.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from lpot.errors import ModelError
from lpot_mxnet.graph import block_name, has_graph, save_files, symbol_of

SYMBOL_SUFFIX = "-symbol.json"


def is_gluon_block(model: object) -> bool:
    """True for any Gluon Block, checked without importing mxnet when the user has not."""
    if "mxnet" not in sys.modules:
        return False
    import mxnet as mx

    return isinstance(model, mx.gluon.Block)


def is_symbol_pair(model: object) -> bool:
    """``(symbol, params)``: an MXNet Symbol and a dict of NDArrays (``arg:``/``aux:`` prefixes allowed)."""
    if "mxnet" not in sys.modules or not isinstance(model, tuple) or len(model) != 2:
        return False
    import mxnet as mx

    return isinstance(model[0], mx.sym.Symbol) and isinstance(model[1], dict)


def block_from_pair(pair: tuple[Any, dict[str, Any]]) -> Any:
    """A SymbolBlock from a symbol and its parameters, as ``mx.model.load_checkpoint`` users hold them."""
    from lpot_mxnet.graph import block_from_graph

    symbol, params = pair
    aux_names = set(symbol.list_auxiliary_states())
    plain = {k.split(":", 1)[-1]: v for k, v in params.items()}
    args = {k: v for k, v in plain.items() if k not in aux_names}
    auxs = {k: v for k, v in plain.items() if k in aux_names}
    data = [n for n in symbol.list_inputs() if n not in plain]
    if not data:
        raise ModelError("the symbol has no data input: every input has a parameter value")
    block = block_from_graph(symbol, args, auxs, data)
    block.hybridize()
    return block


def symbol_file(path: Path) -> Path | None:
    """The ``-symbol.json`` file a path names (the file itself, a directory holding one, or a prefix)."""
    path = Path(path)
    if path.name.endswith(SYMBOL_SUFFIX):
        return path
    if path.is_dir():
        found = sorted(path.glob(f"*{SYMBOL_SUFFIX}"))
        return found[0] if len(found) == 1 else None
    candidate = path.with_name(path.name + SYMBOL_SUFFIX)
    return candidate if candidate.exists() else None


def params_file(symbol: Path) -> Path:
    prefix = str(symbol)[: -len(SYMBOL_SUFFIX)]
    found = sorted(Path(symbol).parent.glob(f"{Path(prefix).name}-*.params"))
    if not found:
        raise ModelError(f"no parameter file {prefix}-0000.params next to {str(symbol)!r}")
    return found[-1]  # the latest epoch, as MXNet users expect


def read_model(path: Path) -> Any:
    import mxnet as mx

    symbol = symbol_file(path)
    if symbol is None or not symbol.exists():
        raise ModelError(
            f"{str(path)!r} is not an MXNet export: expected <prefix>-symbol.json and <prefix>-0000.params"
        )
    try:
        graph = json.loads(symbol.read_text())
        sym = mx.sym.load(str(symbol))
    except (ValueError, mx.base.MXNetError) as exc:
        raise ModelError(f"{str(symbol)!r} is not an MXNet symbol file: {exc}") from exc
    params = params_file(symbol)
    saved = {k.split(":", 1)[-1] for k in mx.nd.load(str(params))}
    inputs = [n["name"] for n in graph["nodes"] if n["op"] == "null" and n["name"] not in saved]
    if not inputs:
        raise ModelError(f"{str(symbol)!r}: every input is a parameter; no data input left")
    block = mx.gluon.SymbolBlock.imports(str(symbol), inputs, str(params), ctx=mx.cpu())
    del sym
    return block


def export_bytes(model: Any) -> tuple[bytes, bytes]:
    """(symbol json, params) bytes as ``export`` writes them."""
    if not has_graph(model):
        raise ModelError(f"{block_name(model)} has not run yet: call it once on a batch after hybridize()")
    with tempfile.TemporaryDirectory(prefix="lpot-mx-") as tmp:
        sym, params = save_files(model, Path(tmp) / "model")
        return sym.read_bytes(), params.read_bytes()


def content_bytes(model: Any) -> bytes:
    """What defines the net, deterministically: its graph JSON, then every parameter's name, dtype,
    shape and values. Hashed for resume, counted as the model's size."""
    graph = model._cached_graph[1] if has_graph(model) else symbol_of(model)
    parts = [graph.tojson().encode()]
    for name, param in sorted(model.collect_params().items()):
        data = param.data().asnumpy()
        parts.append(f"{name}:{data.dtype}:{data.shape};".encode())
        parts.append(data.tobytes())
    return b"".join(parts)


def save_model(model: Any, path: Path) -> Path:
    """``path/model-symbol.json`` (+ params) for a directory, else ``path`` is the file prefix."""
    path = Path(path)
    if path.name.endswith(SYMBOL_SUFFIX):
        prefix = Path(str(path)[: -len(SYMBOL_SUFFIX)])
    elif path.is_dir() or not path.suffix:
        prefix = path / "model"
    else:
        prefix = path.with_suffix("")
    if not has_graph(model):
        raise ModelError(f"{block_name(model)} has not run yet: call it once on a batch after hybridize()")
    sym, _ = save_files(model, prefix)
    return sym
