"""Static INT8 through ``torch.export`` + pt2e, for models legacy torch.fx cannot trace.

transformers models build their attention masks with Python control flow that ``torch.fx``'s
symbolic tracer cannot follow (and transformers 5 ships no fx tracer of its own), but
``torch.export`` traces them with real shapes. The flow:

    exported = export(model, batches)              # once per model: dynamic batch (and token) dims
    prepared = prepare(exported, recipe)           # torchao's X86InductorQuantizer, op by op
    set_ranges(prepared, stats.ranges)             # observers *set*, never fed data
    quantized = convert_and_lower(prepared, ...)   # convert_pt2e, then oneDNN INT8 kernels

Lowering runs inductor's freezing passes on the graph (as torchao's ``lower_pt2e_quantized_to_x86``
does, but keeping the dynamic dims) without inductor's code generation: the result is a
GraphModule calling ``onednn.qlinear_pointwise`` / ``onednn.qconv_pointwise`` eagerly, built in
seconds, where ``torch.compile`` took about a minute per model on this project's machine. The
model evaluated is the model returned.

Ops are the Linear / Conv2d modules by qualified name (the quantizer matches graph nodes to them
through their ``nn_module_stack``); calibration ranges are keyed by the exported graph's name of
the observed tensor, which is the same for every recipe of one model.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import types
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import fx, nn

from lpot.errors import ModelError, QuantizationError, first_line
from lpot.recipe import OpConfig, Recipe
from lpot_pytorch.tensors import call, to_torch

INPUTS_ARTIFACT = "pt2e_inputs.json"  # the exported inputs' names, shapes and dtypes
TORCHAO = "torchao==0.18.0"


def torchao() -> Any:
    """torchao's pt2e modules, imported on first use (``import lpot`` never loads torch)."""
    log = logging.getLogger("torchao")
    level = log.level
    log.setLevel(logging.ERROR)  # its CUDA-only kernels fail to load on a CPU wheel, with a warning each
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization import pt2e as ao_pt2e
        from torchao.quantization.pt2e import quantize_pt2e
    except ImportError as exc:
        raise ModelError(
            f"the torch.export + pt2e lowering needs torchao ({exc}): pip install 'lpot-pytorch[pt2e]' "
            f"(or pip install --no-deps {TORCHAO}, which keeps torch==2.13.0)"
        ) from exc
    finally:
        log.setLevel(level)
    return type("torchao", (), {"xiq": xiq, "pt2e": ao_pt2e, "quantize": quantize_pt2e})


# inputs ------------------------------------------------------------------------------------------
def input_spec(example: Any) -> dict[str, Any]:
    """Names, shapes and dtypes of one batch, and which dims may vary: JSON, to export again later.

    Dim 0 (the batch) always varies; integer inputs (token ids, masks) vary along every dim, as
    sequence lengths do between batches; float inputs (images) keep their other dims."""
    example = to_torch(example)
    if isinstance(example, dict):
        kind, items = "kwargs", list(example.items())
    elif isinstance(example, (tuple, list)):
        kind, items = "args", [(str(i), t) for i, t in enumerate(example)]
    else:
        kind, items = "tensor", [("0", example)]
    inputs = []
    for name, tensor in items:
        if not isinstance(tensor, torch.Tensor):
            raise ModelError(f"pt2e exports tensor inputs only; input '{name}' is a {type(tensor).__name__}")
        varying = range(tensor.dim()) if not tensor.is_floating_point() else range(min(1, tensor.dim()))
        inputs.append(
            {"name": name, "shape": list(tensor.shape), "dtype": str(tensor.dtype), "dynamic": list(varying)}
        )
    return {"kind": kind, "inputs": inputs}


def example_inputs(spec: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any], Any]:
    """(args, kwargs, dynamic_shapes) for ``torch.export`` from :func:`input_spec`'s record.

    Values are ones (export follows shapes, not values); a varying dim is at least 2, since
    torch.export specializes dims of size 0 and 1."""
    tensors, dims = {}, {}
    for item in spec["inputs"]:
        shape = [max(s, 2) if i in item["dynamic"] else s for i, s in enumerate(item["shape"])]
        tensors[item["name"]] = torch.ones(shape, dtype=getattr(torch, item["dtype"].split(".")[-1]))
        dims[item["name"]] = {i: torch.export.Dim.AUTO for i in item["dynamic"]}
    if spec["kind"] == "kwargs":
        return (), tensors, dims
    return tuple(tensors.values()), {}, tuple(dims.values())


def export(model: nn.Module, spec: Mapping[str, Any]) -> Any:
    """``torch.export`` of the FP32 model with dynamic dims; a ModelError names what failed."""
    args, kwargs, dims = example_inputs(spec)
    try:
        with torch.no_grad():
            return torch.export.export(copy.deepcopy(model).eval(), args, kwargs, dynamic_shapes=dims)
    except Exception as exc:  # data-dependent Python, unsupported ops...: one error, with advice
        raise ModelError(
            f"torch.export cannot export {type(model).__name__} either "
            f"({type(exc).__name__}: {first_line(exc, 300)}); "
            "quantize it dynamically instead (quantization: approach: post_training_dynamic_quant: INT8 "
            "Linear/LSTM weights, no graph needed), or move the data-dependent code out of the forward you tune"
        ) from exc


# quantizer ---------------------------------------------------------------------------------------
def quantization_config(observer: Any, reduce_range: bool) -> Any:
    """The x86 inductor config (u8 activations, s8 per-channel weights) with ``observer`` for
    activations: MinMax/Histogram to calibrate, MinMax whose range is then set for a trial."""
    ao = torchao()
    base = ao.xiq.get_default_x86_inductor_quantization_config(reduce_range=reduce_range)
    activation = base.input_activation.__class__(
        dtype=torch.uint8,
        quant_min=0,
        quant_max=127 if reduce_range else 255,
        qscheme=torch.per_tensor_affine,
        observer_or_fake_quant_ctr=observer.with_args(eps=2**-12),
    )
    return base.__class__(activation, activation, base.weight, base.bias, False)


def quantizer(ops: Mapping[str, object | None], observer: Any, reduce_range: bool) -> Any:
    """X86InductorQuantizer with each op (module name) INT8 or left FP32 (``None``); functional
    ops outside those modules (matmul, pooling) follow the first INT8 op, as in the FX path."""
    ao = torchao()
    config = quantization_config(observer, reduce_range)
    q = ao.xiq.X86InductorQuantizer()
    if any(op is not None for op in ops.values()):
        q.set_global(config)
    for name, op in ops.items():
        q.set_module_name_qconfig(name, config if op is not None else None)
    return q


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    from lpot_pytorch.fx import quiet as fx_quiet

    with fx_quiet(), torch.no_grad():
        yield


def prepare(exported: Any, ops: Mapping[str, object | None], observer: Any, reduce_range: bool) -> Any:
    """``prepare_pt2e`` on a fresh copy of the exported FP32 graph, dead code removed first: an output
    nobody reads (BertModel's pooler inside a sentence embedder) leaves the quantizer a Linear-Tanh
    partition without output nodes, on which it fails with an IndexError."""
    ao = torchao()
    module = copy.deepcopy(exported.module())
    module.graph.eliminate_dead_code()
    module.recompile()
    with quiet():
        return ao.quantize.prepare_pt2e(module, quantizer(ops, observer, reduce_range))


def recipe_ops(recipe: Recipe) -> dict[str, OpConfig | None]:
    """Module name -> its OpConfig where the recipe keeps it INT8, None where it falls back."""
    out: dict[str, OpConfig | None] = {}
    for key in recipe.ops:
        op = recipe.op(key)
        if op.activation.dtype not in ("uint8", "fp32"):
            raise QuantizationError(f"op '{key.name}': pt2e builds uint8 or fp32, not {op.activation.dtype}")
        out[key.name] = op if op.is_quantized else None
    return out


# observers ---------------------------------------------------------------------------------------
def observers(prepared: fx.GraphModule) -> dict[str, Any]:
    """Activation observers by the exported graph's name of the tensor they observe (weights, read
    through ``get_attr``, are left out: convert quantizes them itself); FX's walk, torchao's class."""
    from lpot_pytorch.fx import observers as graph_observers

    return graph_observers(prepared, torchao().pt2e.ObserverBase)


def observed_ranges(prepared: fx.GraphModule) -> dict[str, tuple[float, float]]:
    """Each calibrated observer's range (a histogram observer's searched one)."""
    from lpot_pytorch.fx import ranges_of

    return ranges_of(observers(prepared))


def set_ranges(prepared: fx.GraphModule, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Activation observers take the cached ranges; weight observers see their weights (pt2e's
    convert reads what they observed, and they sit in the graph, so without data they saw nothing)."""
    from lpot_pytorch.fx import apply_ranges

    apply_ranges(observers(prepared), ranges, {})
    with torch.no_grad():
        for node in prepared.graph.nodes:
            if node.op == "call_module" and node.args and getattr(node.args[0], "op", None) == "get_attr":
                weight = _attr(prepared, str(node.args[0].target))
                prepared.get_submodule(str(node.target))(weight)


def _attr(module: nn.Module, target: str) -> Any:
    for part in target.split("."):
        module = getattr(module, part)
    return module


def calibrate(prepared: fx.GraphModule, batches: Iterable[Any]) -> None:
    with quiet():
        for inputs in batches:
            call(prepared, inputs)


# convert and lower -------------------------------------------------------------------------------
def _cia_decompositions() -> Any:
    """Decompose only composite-implicit ops (``linear`` -> ``addmm``), as torchao's x86 lowering
    does: the patterns it fuses into oneDNN INT8 ops are written against that level."""
    table = torch.export.default_decompositions()
    for op in list(table.keys()):
        if not torch._export.utils._is_cia_op(op):
            del table[op]
    return table


def lower(converted: fx.GraphModule, spec: Mapping[str, Any]) -> fx.GraphModule:
    """The q/dq graph with each dequantize -> linear/conv -> quantize fused into a oneDNN INT8 op.

    torchao's ``lower_pt2e_quantized_to_x86`` re-exports with static shapes; this keeps the dims
    that vary (sequence lengths differ batch to batch), and turns ``view`` into ``reshape``
    first, as inductor's freezing does, since the linear patterns are written with ``reshape``."""
    from torch._inductor.constant_folding import constant_fold
    from torch._inductor.fx_passes.freezing_patterns import freezing_passes
    from torch._inductor.fx_passes.post_grad import view_to_reshape

    args, kwargs, dims = example_inputs(spec)
    with quiet():
        program = torch.export.export(converted, args, kwargs, dynamic_shapes=dims, strict=False)
        lowered = program.run_decompositions(_cia_decompositions()).module()
        graph = lowered.graph
        for node in list(graph.nodes):
            if node.target == torch.ops.aten.t.default:  # the weight-prepack patterns expect permute
                with graph.inserting_before(node):
                    permute = graph.call_function(torch.ops.aten.permute.default, (node.args[0], [1, 0]))
                node.replace_all_uses_with(permute)
                graph.erase_node(node)
        lowered.recompile()
        view_to_reshape(lowered)
        freezing_passes(lowered, [n.meta["val"] for n in graph.nodes if n.op == "placeholder"])
        constant_fold(lowered)
    _drop_unused(lowered)
    return lowered


def _drop_unused(module: fx.GraphModule) -> None:
    """Forget the FP32 weights the INT8 ops replaced: the graph no longer reads them, and a model
    holding them would be as big as FP32 (and look FP32 to whoever inspects its tensors)."""
    used = {str(node.target) for node in module.graph.nodes if node.op == "get_attr"}
    for name, _ in [*module.named_parameters(), *module.named_buffers()]:
        if name not in used:
            owner, _, attr = name.rpartition(".")
            delattr(module.get_submodule(owner) if owner else module, attr)
    module.delete_all_unused_submodules()


def record(recipe: Recipe, fp32: Iterable[str], ranges: Mapping[str, Any], spec: Mapping[str, Any]) -> dict:
    """What builds the recipe's model again (JSON): which modules are INT8, reduce_range, the
    ranges, the exported inputs. ``fp32``: modules kept FP32 besides the recipe's (leaf modules)."""
    ops = {name: op is not None for name, op in recipe_ops(recipe).items()}
    ops.update(dict.fromkeys(fp32, False))
    return {
        "ops": ops,
        "reduce_range": bool(recipe.options.get("reduce_range", False)),
        "ranges": {name: [float(lo), float(hi)] for name, (lo, hi) in ranges.items()},
        "inputs": dict(spec),
    }


def convert(exported: Any, made: Mapping[str, Any]) -> fx.GraphModule:
    """prepare_pt2e -> ranges set -> convert_pt2e: the reference q/dq graph, INT8 weights folded.
    ``made["ranges"]`` keeps only the ranges this graph uses (a saved model carries no others)."""
    ao = torchao()
    ops = {name: (True if int8 else None) for name, int8 in made["ops"].items()}
    prepared = prepare(exported, ops, ao.pt2e.MinMaxObserver, made["reduce_range"])
    set_ranges(prepared, {name: tuple(r) for name, r in made["ranges"].items()})
    made["ranges"] = {name: made["ranges"][name] for name in observers(prepared)}
    with quiet():
        return ao.quantize.convert_pt2e(prepared)


def build(
    exported: Any, made: dict[str, Any], state: Mapping[str, Any] | None = None, *, compiled: bool = False
) -> nn.Module:
    """The INT8 model of ``made`` (:func:`record`): lowered eagerly, or ``compiled`` by inductor
    (:mod:`lpot_pytorch.compiled`); ``state``: saved weights to load first. The record and the INT8
    weights ride along on the model (``meta``), for saving and hashing."""
    converted = convert(exported, made)
    if state is not None:
        converted.load_state_dict(state)
    record = {**made, "state": converted.state_dict()}
    if compiled:
        from lpot_pytorch.compiled import compile_pt2e

        return compile_pt2e(converted, record)
    lowered = lower(converted, made["inputs"])
    lowered.meta["lpot_pt2e"] = record
    _inference_only(lowered)
    return lowered


def _inference_only(module: fx.GraphModule) -> None:
    """An exported module refuses ``.eval()``; users (and ``lpot.utils.pytorch.load``) call it. The
    lowered graph only runs inference, so ``eval()`` / ``train(False)`` are no-ops returning it."""

    def train(self: fx.GraphModule, mode: bool = True) -> fx.GraphModule:
        if mode:
            raise ModelError(
                "a pt2e INT8 model only runs inference; train the FP32 model (or use quant_aware_training, "
                "which goes through PyTorchBackend(lowering='fx'))"
            )
        return self

    module.train = types.MethodType(train, module)  # type: ignore[method-assign]
    module.eval = types.MethodType(lambda self: self, module)  # type: ignore[method-assign]


def made_by_pt2e(model: Any) -> dict[str, Any] | None:
    """What :func:`quantize` recorded on a model it built, or None for any other model."""
    meta = getattr(model, "meta", None)
    return meta.get("lpot_pt2e") if isinstance(meta, dict) else None


def low_precision_ops(model: fx.GraphModule) -> dict[str, int]:
    """How many oneDNN INT8 ops the eager-lowered graph calls, by op (what proves it runs in INT8)."""
    counts: dict[str, int] = {}
    for node in model.graph.nodes:
        name = str(node.target)
        if node.op == "call_function" and name.startswith("onednn.q") and "pointwise" in name:
            counts[name] = counts.get(name, 0) + 1
    return counts


def spec_bytes(spec: Mapping[str, Any]) -> bytes:
    return json.dumps(spec, sort_keys=True).encode()
