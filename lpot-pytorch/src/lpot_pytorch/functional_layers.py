"""Conv and Linear subclasses that call ``F.conv2d`` / ``F.linear`` themselves, made plain modules.

EfficientNet's ``Conv2dStaticSamePadding`` is an ``nn.Conv2d`` subclass whose ``forward`` zero-pads
and then calls ``F.conv2d(x, self.weight, ...)``. torch.fx traces into it, so the graph holds a
functional conv whose weight is a graph input: the FX passes then cannot fold the BatchNorm that
follows into it (FX fuses module patterns only), every conv output is quantized *before* its
BatchNorm, and a quantized BatchNorm runs after each conv. On EfficientNet-Lite0 that gave 0.37
top-1 agreement with FP32 and a model 10x slower than FP32 eager (measured by hand on this project's
AVX2 machine, benchmarks/real_models_pytorch.py).

:func:`fusable` recognises the forward exactly (a trace of the module alone must be: zero
padding of the input, then the functional op on the module's own weight, bias, stride, padding,
dilation and groups, returned as is) and rewrites the graph: the module becomes the plain
``nn.Conv2d`` (or ``nn.Linear``) with the same parameters and the same qualified name, symmetric
padding is folded into the conv's own, and asymmetric padding stays a zero ``F.pad`` in front of it.
Same function, same names: the recipe's ops, the observers' keys and the inspection hooks keep
working, and conv-bn(-relu) fuse as they do for plain modules. Any other forward is left alone.
It also makes ``torch.relu`` calls ``F.relu``, the spelling the fusion patterns know (issue 17: a
residual block calling ``torch.relu`` between convs kept an unfused conv and a quantized relu).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

LAYER_FUNCTIONS: dict[type[nn.Module], Any] = {
    nn.Conv1d: F.conv1d,
    nn.Conv2d: F.conv2d,
    nn.Conv3d: F.conv3d,
    nn.Linear: F.linear,
}
ZERO_PADS = (nn.ZeroPad1d, nn.ZeroPad2d, nn.ZeroPad3d, nn.ConstantPad1d, nn.ConstantPad2d, nn.ConstantPad3d)
CONV_ARGS = ("stride", "padding", "dilation", "groups")
# the functional ops' parameters in positional order (their schemas are overloaded: bind by hand)
PARAMETERS = {
    F.pad: ("input", "pad", "mode", "value"),
    F.linear: ("input", "weight", "bias"),
    **{f: ("input", "weight", "bias", *CONV_ARGS) for f in (F.conv1d, F.conv2d, F.conv3d)},
}


def _bound(node: fx.Node) -> dict[str, Any]:
    """A functional call's arguments by parameter name."""
    return {**dict(zip(PARAMETERS[node.target], node.args)), **node.kwargs}


def _plain_type(module: nn.Module) -> type[nn.Module] | None:
    """The torch layer a user subclass derives from, when the subclass has its own ``forward``."""
    for base, _ in LAYER_FUNCTIONS.items():
        if isinstance(module, base) and type(module) is not base and type(module).forward is not base.forward:
            return base
    return None


def _pad_of(node: fx.Node, root: nn.Module) -> tuple[int, ...] | None:
    """The zero padding a node applies (F.pad or a zero/constant-0 pad module), else None."""
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        if isinstance(module, ZERO_PADS) and getattr(module, "value", 0.0) == 0.0:
            return tuple(int(p) for p in module.padding)
        return None
    if node.op == "call_function" and node.target is F.pad:
        kwargs = _bound(node)
        if kwargs.get("mode", "constant") == "constant" and not kwargs.get("value"):
            return tuple(int(p) for p in kwargs["pad"])
    return None


def _same_args(module: nn.Module, call: dict[str, Any]) -> bool:
    """Whether a functional call computes with the module's own parameters and hyper-parameters."""
    if not isinstance(call.get("weight"), fx.Node) or call["weight"].target != "weight":
        return False
    bias = call.get("bias")
    if module.bias is None:
        if bias is not None:
            return False
    elif not isinstance(bias, fx.Node) or bias.target != "bias":
        return False
    if isinstance(module, nn.Linear):
        return True
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}
    for name in CONV_ARGS:
        given, own = call.get(name, defaults[name]), getattr(module, name)
        if isinstance(own, str) or isinstance(given, str):
            if given != own:
                return False
        elif _ntuple(given, len(module.kernel_size)) != _ntuple(own, len(module.kernel_size)):
            return False
    return True


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * n


def layer_padding(module: nn.Module) -> tuple[int, ...] | None:
    """The zero padding (F.pad order) ``module``'s forward applies before its plain layer call, or
    None when its forward is anything else (or is the plain layer's own)."""
    base = _plain_type(module)
    if base is None:
        return None
    try:
        graph = fx.Tracer().trace(module)
    except Exception:  # data-dependent padding (e.g. computed from the input size)
        return None
    nodes = list(graph.nodes)
    if not nodes or nodes[0].op != "placeholder" or nodes[-1].op != "output":
        return None
    current, pads, result = nodes[0], [], None
    for node in nodes[1:-1]:
        if node.op == "get_attr" and node.target in ("weight", "bias"):
            continue
        pad = _pad_of(node, module) if result is None and node.args and node.args[0] is current else None
        if pad is not None:
            pads.append(pad)
            current = node
            continue
        if result is None and node.op == "call_function" and node.target is LAYER_FUNCTIONS[base]:
            call = _bound(node)
            if call.get("input") is current and _same_args(module, call):
                result = node
                continue
        return None
    if result is None or nodes[-1].args[0] is not result:
        return None
    return _sum_pads(pads)


def _sum_pads(pads: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    size = max((len(p) for p in pads), default=0)
    total = [0] * size
    for pad in pads:
        for i, p in enumerate(pad):
            total[i] += p
    return tuple(total)


def plain_layer(module: nn.Module, pad: tuple[int, ...]) -> tuple[nn.Module, tuple[int, ...]]:
    """The plain layer with ``module``'s parameters, and the padding it still needs in front (F.pad
    order; empty when the padding is symmetric and folds into the conv's own)."""
    base = _plain_type(module)
    assert base is not None
    if base is nn.Linear:
        plain: nn.Module = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None)
    else:
        dims = len(module.kernel_size)
        padding, rest = module.padding, pad
        pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]  # last dim first
        if not isinstance(padding, str) and len(pairs) <= dims and all(a == b for a, b in pairs):
            own = list(_ntuple(padding, dims))
            for i, (before, _) in enumerate(pairs):
                own[dims - 1 - i] += before
            padding, rest = tuple(own), ()
        plain = base(
            module.in_channels,
            module.out_channels,
            module.kernel_size,
            stride=module.stride,
            padding=padding,
            dilation=module.dilation,
            groups=module.groups,
            bias=module.bias is not None,
        )
        pad = rest
    plain.weight = module.weight
    if module.bias is not None:
        plain.bias = module.bias
    plain.train(module.training)
    return plain, tuple(pad) if any(pad) else ()


class _LayerTracer(fx.Tracer):
    """Keeps recognised layer subclasses (and the user's leaf modules) as single module calls."""

    def __init__(self, layers: set[str], leaf_modules: Sequence[str]) -> None:
        super().__init__()
        self.layers = layers
        self.leaves = set(leaf_modules)

    def is_leaf_module(self, m: nn.Module, qualified_name: str) -> bool:
        return (
            qualified_name in self.layers
            or qualified_name in self.leaves
            or super().is_leaf_module(m, qualified_name)
        )


def fusable(model: nn.Module, leaf_modules: Sequence[str] = ()) -> fx.GraphModule:
    """``model`` traced the way torch.fx's fusion patterns expect it (a GraphModule with the same
    module names): recognised layer subclasses made plain layers, ``torch.relu`` calls made
    ``F.relu`` (the conv-bn-relu patterns list ``F.relu`` and ``nn.ReLU``, not ``torch.relu``).
    Parameters are shared with ``model``: pass a copy."""
    paddings = {}
    for name, module in model.named_modules():
        if name and not any(name == leaf or name.startswith(leaf + ".") for leaf in leaf_modules):
            pad = layer_padding(module)
            if pad is not None:
                paddings[name] = pad
    graph = _LayerTracer(set(paddings), leaf_modules).trace(model)
    root = fx.GraphModule(model, graph, type(model).__name__)
    for node in list(root.graph.nodes):
        if node.op == "call_function" and node.target in (torch.relu, torch.relu_):
            node.target, node.kwargs = F.relu, {"inplace": node.target is torch.relu_}
        elif node.op == "call_method" and node.target in ("relu", "relu_"):
            node.op, node.kwargs = "call_function", {"inplace": node.target == "relu_"}
            node.target = F.relu
        elif node.op == "call_module" and node.target in paddings:
            _make_plain(root, node, paddings[str(node.target)])
    _retype_module_stacks(root, set(paddings))
    root.graph.lint()
    root.recompile()
    root.train(model.training)
    return root


def _make_plain(root: fx.GraphModule, node: fx.Node, padding: tuple[int, ...]) -> None:
    """The layer subclass called at ``node`` becomes the plain layer; leftover padding an F.pad."""
    plain, pad = plain_layer(root.get_submodule(str(node.target)), padding)
    parent, _, leaf = str(node.target).rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, plain)
    if pad:
        with root.graph.inserting_before(node):
            padded = root.graph.call_function(F.pad, (node.args[0], list(pad)))
        node.args = (padded, *node.args[1:])


def _retype_module_stacks(root: fx.GraphModule, replaced: set[str]) -> None:
    """The tracer recorded each node's module stack with the subclass; torch.export keeps that
    record, and pt2e's quantizers find convs by it: name the plain layer instead."""
    for node in root.graph.nodes:
        stack = node.meta.get("nn_module_stack")
        if not stack:
            continue
        for key, (path, kind) in list(stack.items()):
            if path in replaced:
                plain = type(root.get_submodule(path))
                stack[key] = (
                    path,
                    plain if isinstance(kind, type) else f"{plain.__module__}.{plain.__qualname__}",
                )


__all__ = ["fusable", "layer_padding", "plain_layer"]
