"""Small queries and edits on an ``onnx.ModelProto`` that every pass needs.

Passes rewrite weights in place of a *copy* (the caller's model is never touched), so the helpers
here read and replace initializers by name and answer "who produces / who consumes this tensor".
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import onnx
from onnx import numpy_helper


def copy_model(model: onnx.ModelProto) -> onnx.ModelProto:
    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


class Graph:
    """Index over one model's graph: producers, consumers, initializers (kept in sync by ``set``)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = model
        self.graph = model.graph
        self._inits = {i.name: i for i in model.graph.initializer}
        self.producer: dict[str, onnx.NodeProto] = {o: n for n in model.graph.node for o in n.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in model.graph.node:
            for name in node.input:
                if name:
                    self.consumers[name].append(node)
        self.outputs = {o.name for o in model.graph.output}
        self._constants = {
            n.output[0]: n for n in model.graph.node if n.op_type == "Constant" and len(n.output) == 1
        }

    def is_constant(self, name: str) -> bool:
        return name in self._inits or name in self._constants

    def array(self, name: str) -> np.ndarray | None:
        """The value of an initializer or Constant node output, else None."""
        if name in self._inits:
            return numpy_helper.to_array(self._inits[name])
        node = self._constants.get(name)
        if node is not None:
            for attr in node.attribute:
                if attr.name == "value":
                    return numpy_helper.to_array(attr.t)
        return None

    def set(self, name: str, value: np.ndarray) -> None:
        """Replace (or add) initializer ``name``; a shared initializer must not be edited here."""
        tensor = numpy_helper.from_array(np.ascontiguousarray(value), name)
        if name in self._constants:
            node = self._constants[name]
            del node.attribute[:]
            node.attribute.append(onnx.helper.make_attribute("value", tensor))
        elif name in self._inits:
            self._inits[name].CopyFrom(tensor)
        else:
            self.graph.initializer.append(tensor)
            self._inits[name] = self.graph.initializer[-1]

    def sole_consumer(self, tensor: str) -> onnx.NodeProto | None:
        """The one node reading ``tensor``, if exactly one does and it is no graph output."""
        readers = self.consumers.get(tensor, [])
        return readers[0] if len(readers) == 1 and tensor not in self.outputs else None

    def unique_name(self, base: str) -> str:
        taken = set(self._inits) | set(self.producer) | {i.name for i in self.graph.input}
        taken |= {n.name for n in self.graph.node}
        name, k = base, 1
        while name in taken:
            name, k = f"{base}_{k}", k + 1
        return name


def attribute(node: onnx.NodeProto, name: str, default: object = None) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return default


def op_counts(model: onnx.ModelProto) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for node in model.graph.node:
        counts[node.op_type] += 1
    return dict(counts)
