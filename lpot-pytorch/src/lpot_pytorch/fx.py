"""The graph passes, usable alone the way torch users expect::

    prepared = lpot_pytorch.fx.prepare(model, recipe)        # observers inserted per the recipe
    for x, _ in calib_batches: prepared(x)                   # or fx.set_ranges(prepared, stats)
    quantized = lpot_pytorch.fx.convert(prepared, recipe)    # INT8 modules (+ BF16 ones)

    qat = lpot_pytorch.fx.prepare_qat(model, recipe)         # fake-quant, train mode
    train(qat); quantized = lpot_pytorch.fx.convert(qat, recipe)

They wrap torch.ao.quantization's FX flow (``prepare_fx`` / ``prepare_qat_fx`` / ``convert_fx``) on
the x86 engine, which lowers to oneDNN/FBGEMM INT8 kernels in eager mode: on this project's
machines it ran faster than the pt2e + ``torch.compile`` flow and needs no compilation per trial
(see the package README for the measurements).
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.ao.quantization import ObserverBase
from torch.ao.quantization.fake_quantize import FakeQuantizeBase

from lpot.errors import QuantizationError
from lpot.recipe import Recipe
from lpot_pytorch.bf16 import to_bf16
from lpot_pytorch.functional_layers import fusable
from lpot_pytorch.kernels import pack_for_speed
from lpot_pytorch.qconfig import qat_mapping, static_mapping
from lpot_pytorch.tensors import call
from lpot_pytorch.tracing import check_traceable

ENGINE = "x86"  # torch's engine for x86 CPUs; lpot_pytorch.kernels moves the convs it is slow on


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """torch 2.13 warns on every FX-quantization call that the flow is deprecated (the README says
    why lpot uses it anyway); the warnings would bury lpot's own output."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        yield


def _custom_config(leaf_modules: Sequence[str]) -> Any:
    from torch.ao.quantization.fx.custom_config import PrepareCustomConfig

    return PrepareCustomConfig().set_non_traceable_module_names(list(leaf_modules))


def _engine() -> None:
    if ENGINE in torch.backends.quantized.supported_engines:
        torch.backends.quantized.engine = ENGINE


def prepare_with(
    model: nn.Module,
    mapping: Any,
    example_inputs: Any = (),
    leaf_modules: Sequence[str] = (),
    qat: bool = False,
) -> fx.GraphModule:
    """``prepare_fx`` (or ``prepare_qat_fx``) on a copy of ``model``; the user's model is never changed."""
    from torch.ao.quantization.quantize_fx import prepare_fx, prepare_qat_fx

    _engine()
    check_traceable(model, leaf_modules)
    work = fusable(copy.deepcopy(model), leaf_modules)
    work.train(qat)
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    prepare = prepare_qat_fx if qat else prepare_fx
    with quiet():
        return prepare(work, mapping, example_inputs, prepare_custom_config=_custom_config(leaf_modules))


def prepare(
    model: nn.Module, recipe: Recipe, example_inputs: Any = (), *, leaf_modules: Sequence[str] = ()
) -> fx.GraphModule:
    """Insert observers for post-training static quantization as ``recipe`` says, op by op."""
    return prepare_with(model, static_mapping(recipe), example_inputs, leaf_modules)


def prepare_qat(
    model: nn.Module, recipe: Recipe, example_inputs: Any = (), *, leaf_modules: Sequence[str] = ()
) -> fx.GraphModule:
    """Insert fake quantization (moving-average ranges) for quantization-aware training; train mode."""
    return prepare_with(model, qat_mapping(recipe), example_inputs, leaf_modules, qat=True)


def calibrate(prepared: fx.GraphModule, batches: Iterable[Any]) -> int:
    """Feed inputs through the observers; returns how many batches were seen."""
    seen = 0
    prepared.eval()
    with torch.no_grad():
        for inputs in batches:
            call(prepared, inputs)
            seen += 1
    return seen


def observers(prepared: fx.GraphModule, base: type = ObserverBase) -> dict[str, Any]:
    """Activation observers keyed by the graph node whose output they observe.

    Node names come from tracing the FP32 model (after conv-bn-relu fusion), so they are the same
    for every recipe of one model: the key under which statistics are cached and found again.
    ``base``: the observer class of the flow that prepared the graph (torchao's for pt2e).
    """
    found: dict[str, Any] = {}
    for node in prepared.graph.nodes:
        if node.op != "call_module" or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        if node.args[0].op == "get_attr":
            # a weight observer: prepare_fx observes the weight of a functional F.conv2d / F.linear
            # (an nn.Conv2d subclass calling F.conv2d in its forward) as a graph input of its own
            continue
        module = prepared.get_submodule(str(node.target))
        if isinstance(module, FakeQuantizeBase):
            module = module.activation_post_process
        if isinstance(module, base) and not type(module).__name__.startswith("Placeholder"):
            found.setdefault(node.args[0].name, module)
    return found


def observed_ranges(prepared: fx.GraphModule) -> dict[str, tuple[float, float]]:
    """The range each calibrated observer settled on (a histogram observer's searched one)."""
    return ranges_of(observers(prepared))


def ranges_of(found: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """:func:`observed_ranges` of observers already found (the pt2e graph finds its own)."""
    ranges: dict[str, tuple[float, float]] = {}
    for name, obs in found.items():
        if hasattr(obs, "_non_linear_param_search"):  # HistogramObserver: the KL-like search's range
            if obs.histogram.sum() == 0:
                continue
            lo, hi = obs._non_linear_param_search()
        else:
            lo, hi = obs.min_val, obs.max_val
        lo, hi = float(lo), float(hi)
        if lo <= hi and abs(lo) != float("inf"):
            ranges[name] = (lo, hi)
    return ranges


def set_ranges(prepared: fx.GraphModule, ranges: Mapping[str, tuple[float, float]]) -> None:
    """Give every activation observer its cached range instead of running data through it.

    Ops that keep their input's quantization (max pooling, flatten) share its observer: that one
    takes the range of the first tensor it observes in graph order, the producer's (a later key
    would overwrite the producer's own calibration algorithm with another's). A tensor that only
    ever goes through one clamp (ReLU6, a ReLU FX did not fuse) is quantized over the clamped
    range (:func:`clamped_outputs`)."""
    apply_ranges(observers(prepared), ranges, clamped_outputs(prepared))


def apply_ranges(
    found: Mapping[str, Any],
    ranges: Mapping[str, tuple[float, float]],
    bounds: Mapping[str, tuple[float, float]],
) -> None:
    """:func:`set_ranges` on observers already found, each clamped to ``bounds`` where it has one."""
    missing = []
    done: set[int] = set()
    for name, obs in found.items():
        if name not in ranges:
            missing.append(name)
            continue
        if id(obs) in done:
            continue
        done.add(id(obs))
        lo, hi = ranges[name]
        if name in bounds:
            low, high = bounds[name]
            lo, hi = min(max(lo, low), high), max(min(hi, high), low)
        obs.min_val = torch.tensor(float(lo))
        obs.max_val = torch.tensor(float(hi))
    if missing:
        raise QuantizationError(
            f"no calibrated range for {', '.join(missing[:5])}"
            f"{' ...' if len(missing) > 5 else ''}: the statistics do not belong to this model"
        )


def _clamp_of(node: fx.Node, prepared: fx.GraphModule) -> tuple[float, float] | None:
    """The (low, high) an activation node clamps its input to, or None for any other node."""
    if node.op == "call_module":
        module = prepared.get_submodule(str(node.target))
        if isinstance(module, nn.ReLU):
            return 0.0, float("inf")
        if isinstance(module, nn.Hardtanh):  # ReLU6 is one
            return float(module.min_val), float(module.max_val)
        return None
    if node.op != "call_function":
        return None
    if node.target in (F.relu, torch.relu, torch.relu_):
        return 0.0, float("inf")
    if node.target is F.relu6:
        return 0.0, 6.0
    if node.target is F.hardtanh:
        bounds = {**dict(zip(("input", "min_val", "max_val"), node.args)), **node.kwargs}
        low, high = bounds.get("min_val", -1.0), bounds.get("max_val", 1.0)
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            return float(low), float(high)
    return None


def clamped_outputs(prepared: fx.GraphModule) -> dict[str, tuple[float, float]]:
    """Observed tensors whose every use is a clamp, with the clamp's bounds (the widest if uses
    differ). FX quantizes a conv's output before a ReLU6 that follows it (the two share one
    observer) and before a ReLU it did not fuse: over the pre-activation range, most of the 256
    levels land where the activation then cuts (EfficientNet-Lite0's convs range over about
    [-50, 80], its ReLU6 keeps [0, 6]). Quantizing over the clamped range computes the same function
    (the clamp is then exact in INT8) with the levels where the values are."""
    found: dict[str, tuple[float, float]] = {}
    for node in prepared.graph.nodes:
        if node.op != "call_module" or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        if not isinstance(prepared.get_submodule(str(node.target)), (ObserverBase, FakeQuantizeBase)):
            continue
        clamps = [_clamp_of(user, prepared) for user in node.users]
        if clamps and all(c is not None for c in clamps):
            found.setdefault(
                node.args[0].name, (min(c[0] for c in clamps if c), max(c[1] for c in clamps if c))
            )
    return found


def convert(prepared: fx.GraphModule, recipe: Recipe | None = None) -> fx.GraphModule:
    """INT8 modules in place of observed ones (eval mode); ops the recipe puts in BF16 cast to it."""
    from torch.ao.quantization.quantize_fx import convert_fx

    _engine()
    prepared.eval()
    with quiet():
        quantized = convert_fx(prepared)
    pack_for_speed(quantized)
    if recipe is not None:
        to_bf16(quantized, [k.name for k, op in recipe.ops.items() if op.activation.dtype == "bf16"])
    return quantized
