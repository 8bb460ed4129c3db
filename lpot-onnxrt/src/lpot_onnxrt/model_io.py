"""Reading, naming, fingerprinting and writing ONNX models, with errors that name the file.

External data (the format of every model over protobuf's 2 GB) is read from next to the model
file and only from there: a ``location`` that is absolute, climbs out with ``..`` or is a symlink
leading outside the model's folder is refused, as is external data in a model given as bytes or a
ModelProto (it has no folder; resolving it against the current directory would read whatever file
the model names). Every model written passes ``onnx.checker``: nodes are put in topological order
first (ORT's QDQ quantizer appends the nodes it inserts).
"""

from __future__ import annotations

import hashlib
import heapq
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from lpot.errors import ModelError

# Above this many bytes of tensors a model is written with its tensors in a side-car file:
# protobuf cannot serialize a message over 2 GiB.
EXTERNAL_ABOVE = 1_800_000_000
# Domains ONNX Runtime's CPU provider implements besides the ONNX ones it shares with onnx.defs.
ORT_DOMAINS = ("com.microsoft", "com.microsoft.nchwc", "com.microsoft.experimental", "com.ms.internal.nhwc")


def read_model(model: Any) -> onnx.ModelProto:
    """An ``onnx.ModelProto`` from a ModelProto, a path, or serialized bytes, with its external data
    loaded from the model's folder."""
    if isinstance(model, onnx.ModelProto):
        _no_external_data(model, "the given ModelProto")
        check_ops(model, "the given ModelProto")
        return model
    if isinstance(model, (bytes, bytearray)):
        proto = _parse(bytes(model), "the given bytes")
        _no_external_data(proto, "the given bytes")
        return proto
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.exists():
            raise ModelError(f"model file {str(path)!r} does not exist")
        if not path.is_file():
            raise ModelError(f"model path {str(path)!r} is not a file")
        proto = _parse(path.read_bytes(), repr(str(path)))
        _load_external_data(proto, path)
        return proto
    raise ModelError(f"expected an onnx.ModelProto or a path to a .onnx file, got {type(model).__name__}")


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{where} is not an ONNX model (protobuf parse failed: {exc})") from exc
    if not model.graph.node:
        raise ModelError(f"{where} is not an ONNX model: it has no graph nodes")
    check_ops(model, where)
    return model


def check_ops(model: onnx.ModelProto, where: str) -> None:
    """Every node's op is one ONNX Runtime can run: an ONNX op, or one of its own domains."""
    for node in _nodes(model.graph):
        domain = node.domain or ""
        if domain in ("", "ai.onnx", "ai.onnx.ml"):
            if not onnx.defs.has(node.op_type, domain):
                raise ModelError(
                    f"{where}: op {node.op_type!r} (node {node.name!r}) is not an ONNX op{_domain(domain)}, so "
                    "ONNX Runtime cannot run the model: fix the export, or replace the node"
                )
        elif domain not in ORT_DOMAINS:
            raise ModelError(
                f"{where}: op {node.op_type!r} of domain {domain!r} (node {node.name!r}) is not registered in "
                "ONNX Runtime (a custom op needs its library), so lpot cannot run the model"
            )


def _domain(domain: str) -> str:
    return f" of domain {domain!r}" if domain else ""


def _nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from _nodes(sub)


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from _tensors(sub)


def _external(model: onnx.ModelProto) -> Iterator[tuple[onnx.TensorProto, str]]:
    for tensor in _tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in tensor.external_data}
            yield tensor, info.get("location", "")


def _no_external_data(model: onnx.ModelProto, given: str) -> None:
    for tensor, location in _external(model):
        raise ModelError(
            f"{given} references external data ({location!r}, tensor {tensor.name!r}) but has no folder to "
            "find it in: pass the path of the .onnx file, with its side-car files next to it"
        )


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    """Check every external location lies inside the model's folder, then load the tensors."""
    folder = path.parent.resolve()
    found = False
    for tensor, location in _external(model):
        found = True
        target = (folder / location).resolve()
        if os.path.isabs(location) or (target != folder and folder not in target.parents):
            raise ModelError(
                f"{str(path)!r}: tensor {tensor.name!r} keeps its data at {location!r}, outside the model's "
                f"folder {str(folder)!r}: refused (external data must be a file next to the model)"
            )
        if not target.is_file():
            raise ModelError(
                f"{str(path)!r}: tensor {tensor.name!r} keeps its data at {location!r}, which does not exist in "
                f"{str(folder)!r}: copy the model's side-car files along with it"
            )
    if found:
        from onnx.external_data_helper import load_external_data_for_model

        try:
            load_external_data_for_model(model, str(folder))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{str(path)!r}: its external data could not be read ({exc})") from exc


def name_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose every node has a unique name: op-wise recipes address nodes by name."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    seen: set[str] = set()
    for index, node in enumerate(named.graph.node):
        if not node.name or node.name in seen:
            base = node.name or f"{node.op_type}_{index}"
            name, n = base, 1
            while name in seen:
                name, n = f"{base}_{n}", n + 1
            node.name = name
        seen.add(node.name)
    return named


def topological_sort(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with its top-level nodes in topological order (Kahn's algorithm, keeping the
    original order among nodes that are ready together). Names no node produces (inputs,
    initializers, outer scope) count as ready. A graph with a cycle is left as it is."""
    nodes = list(model.graph.node)
    producer = {name: i for i, node in enumerate(nodes) for name in node.output if name}
    needs = [
        {producer[n] for n in node.input if n in producer and producer[n] != i}
        for i, node in enumerate(nodes)
    ]
    users: list[list[int]] = [[] for _ in nodes]
    for i, deps in enumerate(needs):
        for d in deps:
            users[d].append(i)
    waiting = [len(deps) for deps in needs]
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(order) == len(nodes) and order != sorted(order):
        del model.graph.node[:]
        model.graph.node.extend(nodes[i] for i in order)
    return model


def fingerprint(model: onnx.ModelProto) -> str:
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()


def tensor_bytes(model: onnx.ModelProto) -> int:
    return sum(len(t.raw_data) for t in _tensors(model.graph))


def save_model(model: onnx.ModelProto, path: Path, *, external_above: int = EXTERNAL_ABOVE) -> Path:
    """Write ``model`` (topologically sorted) to ``path`` (a file, or ``model.onnx`` in a folder);
    with more than ``external_above`` bytes of tensors, they go to ``<file>.data`` beside it."""
    path = Path(path)
    file = path / "model.onnx" if path.is_dir() or not path.suffix else path
    file.parent.mkdir(parents=True, exist_ok=True)
    out = onnx.ModelProto()
    out.CopyFrom(model)  # sorting and moving tensors out must not change the caller's model
    topological_sort(out)
    if tensor_bytes(out) > external_above:
        onnx.save_model(
            out,
            str(file),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=f"{file.name}.data",
            size_threshold=0 if external_above == 0 else 1024,
        )
    else:
        onnx.save_model(out, str(file))
    return file
