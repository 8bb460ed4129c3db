"""lpot's torch training-time pieces under DistributedDataParallel (torchrun, gloo on CPU).

What stays in sync by itself: DDP averages gradients, so every rank holds the same weights, and
:class:`~lpot_pytorch.pruning.Pruner` computes masks from weights (magnitude) or from averaged
gradients (gradient sensitivity): the masks agree on every rank without communication. Register
the Pruner *before* wrapping the model in DDP (parametrizations change the parameter layout).

What does not: QAT observers record the ranges of the activations each rank saw, and BatchNorm's
running statistics (folded into the INT8 conv weights by ``convert``) are updated by each rank's
last batches. Call :func:`sync_for_convert` (every rank) before ``convert``: observers get the global
range (the min of the minima, the max of the maxima), BatchNorm statistics the mean over ranks,
and every rank converts to the same INT8 model.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.ao.quantization import ObserverBase


def sync_for_convert(model: nn.Module) -> int:
    """Observer ranges and BatchNorm statistics made equal on every rank; returns the observers synced."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return 0
    world = dist.get_world_size()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            for buffer in (module.running_mean, module.running_var):
                dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
                buffer.div_(world)
    count = 0
    for module in model.modules():
        if not isinstance(module, ObserverBase):
            continue
        low, high = getattr(module, "min_val", None), getattr(module, "max_val", None)
        if not isinstance(low, torch.Tensor) or not isinstance(high, torch.Tensor) or low.numel() == 0:
            continue
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        count += 1
    return count
