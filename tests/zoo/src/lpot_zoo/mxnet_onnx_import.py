"""EfficientNet-Lite0 brought into MXNet the other way users do it: ONNX export, ``mxnet.contrib.onnx``.

MXNet 1.9.1's importer needs what issue 17 found: opset 10 (its Clip has min/max attributes),
``keep_initializers_as_inputs=True``, every ``Constant`` node turned into an initializer; and the
flatten's Reshape, traced with the batch size fixed at 1, rewritten to ``[0, -1]`` so any batch runs.
The result is a ``SymbolBlock`` whose tensors carry the ONNX names (``/_blocks.0/_swish/Clip_output``).
Needs torch, ``onnx<1.17`` (the importer uses ``onnx.mapping``) and mxnet: the ``mxnet-onnx`` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lpot_zoo.cache import cached_file

OPSET = 10


def _constants_to_initializers(model: Any) -> None:
    import numpy as np
    from onnx import helper, numpy_helper

    for node in [n for n in model.graph.node if n.op_type == "Constant"]:
        tensor = node.attribute[0].t
        tensor.name = node.output[0]
        model.graph.initializer.append(tensor)
        model.graph.input.append(
            helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))
        )
        model.graph.node.remove(node)
    shapes = {n.input[1] for n in model.graph.node if n.op_type == "Reshape"}
    for i, init in enumerate(model.graph.initializer):
        if init.name in shapes and numpy_helper.to_array(init).tolist() == [1, -1]:
            model.graph.initializer[i].CopyFrom(
                numpy_helper.from_array(np.array([0, -1], dtype=np.int64), init.name)
            )


def efficientnet_onnx_for_mxnet() -> Path:
    """The opset-10 export MXNet's importer accepts (cached like the other exports)."""
    from lpot_zoo.efficientnet import MADE_BY, load_efficientnet_lite0

    def build(path: Path) -> None:
        import onnx
        import torch

        from lpot_zoo.exports import legacy_exporter

        with legacy_exporter():
            torch.onnx.export(
                load_efficientnet_lite0(),
                (torch.zeros(1, 3, 224, 224),),
                str(path),
                opset_version=OPSET,
                dynamo=False,
                keep_initializers_as_inputs=True,
                input_names=["images"],
                output_names=["logits"],
            )
        model = onnx.load(str(path))
        _constants_to_initializers(model)
        onnx.save(model, str(path))

    return cached_file("efficientnet_lite0_mxnet.onnx", (*MADE_BY, "onnx"), build, extra=f"opset={OPSET}")


def import_efficientnet_lite0(*, hybridize: bool = True) -> Any:
    """The imported ``SymbolBlock`` (NCHW images in, 1000 logits out) with the real weights."""
    import mxnet as mx
    from mxnet.contrib import onnx as onnx_mxnet

    sym, args, auxs = onnx_mxnet.import_model(str(efficientnet_onnx_for_mxnet()))
    inputs = [name for name in sym.list_inputs() if name not in args and name not in auxs]
    net = mx.gluon.SymbolBlock(sym, [mx.sym.var(name) for name in inputs])
    params = net.collect_params()
    for name, value in {**args, **auxs}.items():
        if name in params:
            params[name]._load_init(value, mx.cpu())
    if hybridize:
        net.hybridize()
    return net
