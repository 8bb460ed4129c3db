"""What the x86 quantization engine can do with a model, in lpot's seed capability format.

Ops are leaf modules, named by their qualified name (``layer1.0.conv1``), which is also the name the
torch.fx graph, the quantized GraphModule and the user know them by. Functional ops between them
(``add``, ``cat``, pooling) follow the model-wise setting and are not searched op by op. Every
per-op choice is applied per op: torch's QConfigMapping takes a qconfig per module name.

BF16 is offered only where oneDNN has native BF16 kernels (AVX512-BF16 or AMX); elsewhere it is
emulated and slower than FP32, so it stays out of the search space.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from lpot.isa import CpuFeatures, cpu_features
from lpot.recipe import Capability, OpCapability, OpKey, TensorChoices

STATIC = "post_training_static_quant"
DYNAMIC = "post_training_dynamic_quant"
QAT = "quant_aware_training"

STATIC_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
DYNAMIC_TYPES: tuple[type[nn.Module], ...] = (nn.Linear, nn.LSTM, nn.GRU)
# nn.MultiheadAttention's out_proj is a NonDynamicallyQuantizableLinear: torch refuses it.
NOT_QUANTIZABLE = ("NonDynamicallyQuantizableLinear",)


def static_capability(cpu: CpuFeatures, qat: bool = False) -> OpCapability:
    dtypes = ("uint8", "bf16", "fp32") if cpu.fast_bf16 and not qat else ("uint8", "fp32")
    return OpCapability(
        activation=TensorChoices(
            dtype=dtypes, scheme=("asym", "sym"), algorithm=() if qat else ("minmax", "kl")
        ),
        weight=TensorChoices(dtype=("int8",), scheme=("sym",), granularity=("per_channel", "per_tensor")),
    )


def dynamic_capability(module: nn.Module) -> OpCapability:
    granularity = ("per_tensor", "per_channel") if isinstance(module, nn.Linear) else ("per_tensor",)
    return OpCapability(
        activation=TensorChoices(dtype=("uint8", "fp32")),
        weight=TensorChoices(dtype=("int8",), scheme=("sym",), granularity=granularity),
    )


def quantizable_modules(
    model: nn.Module, types: tuple[type[nn.Module], ...], leaf_modules: Sequence[str] = ()
) -> list[tuple[str, nn.Module]]:
    """Modules of ``types`` in definition order, outside any module the user kept opaque."""
    found = []
    for name, module in model.named_modules():
        if not name or type(module).__name__ in NOT_QUANTIZABLE:
            continue
        if any(name == leaf or name.startswith(leaf + ".") for leaf in leaf_modules):
            continue
        if isinstance(module, types):
            found.append((name, module))
    return found


def build_capability(
    model: nn.Module,
    approach: str = STATIC,
    leaf_modules: Sequence[str] = (),
    cpu: CpuFeatures | None = None,
) -> Capability:
    cpu = cpu or cpu_features()
    opwise: dict[OpKey, OpCapability] = {}
    if approach == DYNAMIC:
        for name, module in quantizable_modules(model, DYNAMIC_TYPES, leaf_modules):
            opwise[OpKey(name, type(module).__name__)] = dynamic_capability(module)
        options: dict[str, tuple[object, ...]] = {}
    else:
        cap = static_capability(cpu, qat=approach == QAT)
        for name, module in quantizable_modules(model, STATIC_TYPES, leaf_modules):
            opwise[OpKey(name, type(module).__name__)] = cap
        # Without VNNI the u8*s8 kernels can saturate: reduce_range (7-bit activations) is then safer.
        options = {"reduce_range": (False, True) if cpu.vnni else (True, False)}
    return Capability(
        opwise=opwise,
        approaches=(approach,) if approach in (STATIC, DYNAMIC, QAT) else (STATIC,),
        options=options,
        # the observer of a module's output is keyed by its fx node name (dots become underscores)
        tensors={key.name: (key.name.replace(".", "_"),) for key in opwise},
    )


# the modules torchao's X86InductorQuantizer quantizes and the x86 lowering turns into oneDNN INT8 ops
PT2E_TYPES: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)


def pt2e_capability(
    model: nn.Module, leaf_modules: Sequence[str] = (), cpu: CpuFeatures | None = None
) -> Capability:
    """Static INT8 through torch.export + pt2e: only what that path really builds differently.

    Per op: INT8 or FP32 (the quantizer's per-module-name config). Weights are per-channel only:
    the lowering fuses per-channel weights into oneDNN's INT8 linear/conv and would leave per-tensor
    ones as dequantize + FP32. Activations are u8 affine; the calibration algorithm and
    ``reduce_range`` apply to the whole model (one quantization config for every INT8 op)."""
    cpu = cpu or cpu_features()
    cap = OpCapability(
        activation=TensorChoices(dtype=("uint8", "fp32")),
        weight=TensorChoices(dtype=("int8",), scheme=("sym",), granularity=("per_channel",)),
    )
    opwise = {
        OpKey(name, type(module).__name__): cap
        for name, module in quantizable_modules(model, PT2E_TYPES, leaf_modules)
    }
    return Capability(
        opwise=opwise,
        approaches=(STATIC,),
        options={
            "activation.algorithm": ("minmax", "kl"),
            "reduce_range": (False, True) if cpu.vnni else (True, False),
        },
    )
