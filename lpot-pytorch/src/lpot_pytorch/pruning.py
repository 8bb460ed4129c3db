"""Pruning for a plain torch training loop: masks as parametrizations, driven by a callback object.

    pruner = Pruner(model, {"target_sparsity": 0.8, "end_epoch": 3})   # or a PruningConfig / lpot.Config
    for epoch in range(epochs):
        pruner.on_epoch_begin(epoch)              # masks updated here, as the schedule says
        for x, y in batches:
            optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()
            pruner.on_step_end()                  # gradient_sensitivity accumulates |w * grad|
    dense = pruner.strip()                        # plain weights with the zeros baked in

Each pruned layer's ``weight`` becomes ``original * mask`` through ``torch.nn.utils.parametrize``,
so the forward pass, the gradients and ``state_dict`` consumers all see the pruned weights, and a
pruned weight never grows back (scores are masked too). Masks are computed by
:mod:`lpot.compression.patterns` (unstructured, N:M, blocks, channels) from importance scores:
``magnitude`` (|w|), ``gradient_sensitivity`` (|w * grad| summed since the last update) or
``pattern_lock`` (keep exactly the zeros the weights have now, e.g. while fine-tuning or in QAT).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from lpot.compression.config import PrunerSpec, pruning_config
from lpot.errors import ConfigError

PRUNABLE: tuple[type[nn.Module], ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _Mask(nn.Module):
    """The parametrization: ``weight = original * mask`` (mask a buffer: saved, never trained)."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", torch.ones_like(weight))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight * self.mask


class Pruner:
    """Prunes the Conv/Linear layers of ``model`` that the config's pruners select."""

    def __init__(self, model: nn.Module, config: Any) -> None:
        self.model = model
        self.config = pruning_config(config)
        self.layers: dict[str, tuple[nn.Module, PrunerSpec]] = {}
        for name, module in model.named_modules():
            if not isinstance(module, PRUNABLE):
                continue
            spec = next((p for p in self.config.pruners if p.selects(name)), None)
            if spec is not None:
                self.layers[name] = (module, spec)
        if not self.layers:
            names = [p.names for p in self.config.pruners]
            raise ConfigError(
                f"pruning: no Conv/Linear layer of {type(model).__name__} matches names {names}"
            )
        self._scores: dict[str, torch.Tensor] = {}
        for module, spec in self.layers.values():
            if not parametrize.is_parametrized(module, "weight"):
                parametrize.register_parametrization(module, "weight", _Mask(module.weight))
            if spec.method == "pattern_lock":
                self._mask_of(module).copy_((self._original(module) != 0).float())
        self.epoch = -1

    # the callback interface ---------------------------------------------------------------
    def on_epoch_begin(self, epoch: int) -> None:
        self.epoch = epoch
        for name, (module, spec) in self.layers.items():
            target = spec.target_at(epoch)
            if target is None:
                continue
            self._update(name, module, spec, target)

    def on_step_end(self) -> None:
        """Call after ``optimizer.step()`` (gradients still present): accumulates gradient scores."""
        for name, (module, spec) in self.layers.items():
            if spec.method != "gradient_sensitivity":
                continue
            original = self._original(module)
            if original.grad is not None:
                score = (original.detach() * original.grad.detach()).abs()
                self._scores[name] = self._scores.get(name, torch.zeros_like(score)) + score

    def on_epoch_end(self, epoch: int) -> None:
        """Nothing to do at the end of an epoch: masks change at epoch begin, as scheduled."""

    # results ------------------------------------------------------------------------------
    def sparsity(self) -> dict[str, float]:
        return sparsity_report(self.model, self.layers)

    def strip(self) -> nn.Module:
        """Bake the masks into plain weights and remove the parametrizations (in place)."""
        for module, _ in self.layers.values():
            if parametrize.is_parametrized(module, "weight"):
                parametrize.remove_parametrizations(module, "weight", leave_parametrized=True)
        return self.model

    # internals ----------------------------------------------------------------------------
    @staticmethod
    def _original(module: nn.Module) -> torch.Tensor:
        return module.parametrizations.weight.original

    @staticmethod
    def _mask_of(module: nn.Module) -> torch.Tensor:
        return module.parametrizations.weight[0].mask

    def _update(self, name: str, module: nn.Module, spec: PrunerSpec, target: float) -> None:
        mask = self._mask_of(module)
        if spec.method == "gradient_sensitivity" and name in self._scores:
            score = self._scores.pop(name)
        else:  # magnitude (and gradient sensitivity before any gradient was seen)
            score = self._original(module).detach().abs()
        score = (score * mask).cpu().numpy()  # pruned weights stay pruned
        new = spec.pattern.mask(score, target)
        with torch.no_grad():
            mask.copy_(torch.from_numpy(np.asarray(new, dtype=np.float32)).to(mask.device))


def sparsity_report(model: nn.Module, layers: Iterable[str] | None = None) -> dict[str, float]:
    """Fraction of zero weights per Conv/Linear layer (also of INT8-quantized ones)."""
    wanted = set(layers) if layers is not None else None
    report = {}
    for name, module in model.named_modules():
        if wanted is not None and name not in wanted:
            continue
        weight = getattr(module, "weight", None)
        if callable(weight):  # quantized modules: weight() is an INT8 tensor
            weight = weight()
            weight = weight.int_repr() if weight.is_quantized else weight
        if (
            isinstance(weight, torch.Tensor)
            and weight.dim() > 1
            and (isinstance(module, PRUNABLE) or ".quantized" in type(module).__module__)
        ):
            report[name] = float((weight == 0).float().mean())
    return report


def train_pruned(
    model: nn.Module,
    config: Any,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy,
    strip: bool = True,
) -> nn.Module:
    """A plain training loop with a :class:`Pruner` in it, for users without a trainer of their own.
    ``batches`` must be re-iterable (one pass per epoch)."""
    pruner = Pruner(model, config)
    for epoch in range(epochs):
        pruner.on_epoch_begin(epoch)
        model.train()
        for x, y in batches:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            pruner.on_step_end()
        pruner.on_epoch_end(epoch)
    model.eval()
    return pruner.strip() if strip else model
