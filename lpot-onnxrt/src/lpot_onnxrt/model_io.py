"""Reading, naming, fingerprinting and writing ONNX models, with errors that name the file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from lpot.errors import ModelError


def read_model(model: Any) -> onnx.ModelProto:
    """An ``onnx.ModelProto`` from a ModelProto, a path, or serialized bytes."""
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        return _parse(bytes(model), "the given bytes")
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.exists():
            raise ModelError(f"model file {str(path)!r} does not exist")
        if not path.is_file():
            raise ModelError(f"model path {str(path)!r} is not a file")
        return _parse(path.read_bytes(), repr(str(path)))
    raise ModelError(f"expected an onnx.ModelProto or a path to a .onnx file, got {type(model).__name__}")


def _parse(data: bytes, where: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{where} is not an ONNX model (protobuf parse failed: {exc})") from exc
    if not model.graph.node:
        raise ModelError(f"{where} is not an ONNX model: it has no graph nodes")
    return model


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


def fingerprint(model: onnx.ModelProto) -> str:
    return hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest()


def save_model(model: onnx.ModelProto, path: Path) -> Path:
    path = Path(path)
    file = path / "model.onnx" if path.is_dir() or not path.suffix else path
    file.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(file))
    return file
