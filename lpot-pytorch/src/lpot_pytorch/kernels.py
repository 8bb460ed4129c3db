"""Which INT8 kernel library each quantized conv is packed for.

torch packs a quantized conv's weights for one library when the conv is built (and again whenever
its weights are loaded or unpickled), under the process-wide ``torch.backends.quantized.engine``;
at run time the packed weights decide which library computes. With the ``x86`` engine, FBGEMM
packs every conv on a CPU without VNNI (and every conv of more than 100 groups with VNNI), and
FBGEMM's depthwise conv is fast only with "same" padding (``(kernel - 1) // 2``): without it,
a depthwise conv took 14-136 ms where oneDNN took 0.5-2 ms (96 channels, 56x56, batch 1, AVX2,
2 threads). EfficientNet's stride-2 depthwise convs are such convs (their asymmetric "same"
padding is an explicit pad in front). oneDNN in turn is 10-100x slower than FBGEMM on grouped
convs that are not depthwise, and no faster on the others at batch 1, so only those depthwise
convs move to oneDNN (numbers: benchmarks/real_models_pytorch.py; the sweep is in its docstring).

:func:`pack_for_speed` re-packs them in place; the engine calls it on every model it builds, reads
or is handed to run, since loading and unpickling pack again under the process-wide engine.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

ONEDNN = "onednn"


def _depthwise_without_same_padding(module: nn.Module) -> bool:
    groups = getattr(module, "groups", 1)
    if groups <= 1 or not (groups == module.in_channels == module.out_channels):
        return False
    padding = module.padding if isinstance(module.padding, tuple) else (module.padding,)
    return any(
        p != (k - 1) // 2 * d for p, k, d in zip(padding, module.kernel_size, module.dilation, strict=False)
    )


def slow_on_fbgemm(module: nn.Module) -> bool:
    """A quantized 2-D/3-D depthwise conv that FBGEMM would run on its slow path."""
    from torch.ao.nn.quantized.modules.conv import Conv2d, Conv3d

    return isinstance(module, (Conv2d, Conv3d)) and _depthwise_without_same_padding(module)


@contextlib.contextmanager
def packing_engine(name: str) -> Iterator[None]:
    before = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = before


def pack_for_speed(model: nn.Module) -> int:
    """Re-pack the convs FBGEMM is slow on for oneDNN (where torch has it); how many were."""
    if ONEDNN not in torch.backends.quantized.supported_engines:
        return 0
    slow = [m for m in model.modules() if slow_on_fbgemm(m)]
    if slow:
        with packing_engine(ONEDNN):
            for module in slow:
                module.set_weight_bias(*module._weight_bias())
    return len(slow)
