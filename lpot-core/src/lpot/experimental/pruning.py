"""``Pruning``: LPOT 1.x's pruning component over ``lpot_pytorch.pruning.Pruner`` (PyTorch).

    prune = Pruning("prune.yaml")            # pruning.approach.weight_compression with !Pruner items
    prune.model = common.Model(model)

    def train(model):                        # the script's own loop, calling the 1.x callbacks
        for epoch in range(epochs):
            prune.on_epoch_begin(epoch)
            for i, (x, y) in enumerate(loader):
                prune.on_batch_begin(i)
                loss_fn(model(x), y).backward()
                prune.on_post_grad()
                optimizer.step(); optimizer.zero_grad()
                prune.on_batch_end()
            prune.on_epoch_end()

    prune.pruning_func = train               # or prune.train_func
    pruned = prune()                         # .model: the pruned torch module, zeros baked in

Masks change at ``on_epoch_begin`` as the schedule says and hold through every forward pass
(parametrizations), so ``on_batch_begin`` / ``on_batch_end`` have nothing to do; ``on_post_grad``
(after ``backward``) feeds gradient-sensitivity scores. lpot does not build the training loop from
``pruning.train`` (dataloader, optimizer, criterion): the script gives it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lpot.errors import ConfigError, FeatureNotAvailableError
from lpot.experimental.common import Model
from lpot.experimental.component import Component, _function, _inference

log = logging.getLogger("lpot")


def require_training_loop(component: str, section: str, attribute: str) -> None:
    raise ConfigError(
        f"{component}: no {attribute} set. lpot does not build a training loop from {section} "
        f"(dataloader, optimizer, criterion); set {attribute} = train(model), your loop calling "
        f"the {component.lower()} callbacks"
    )


def require_pytorch(model: Model, component: str, keras_way: str) -> None:
    if model.framework == "pytorch":
        return
    if model.framework == "tensorflow":
        raise FeatureNotAvailableError(
            f"{component} of Keras models runs inside model.fit: use {keras_way}; the {component} "
            "component drives PyTorch training loops"
        )
    raise FeatureNotAvailableError(f"{component} supports PyTorch models, not {model.framework!r} ones")


class Pruning(Component):
    def __init__(self, conf_fname: Any = None) -> None:
        super().__init__(conf_fname)
        self._pruner: Any = None
        self._epoch = -1

    @property
    def pruning_func(self) -> Callable[[Any], Any] | None:
        return self._train_func

    @pruning_func.setter
    def pruning_func(self, func: Callable[[Any], Any] | None) -> None:
        self._train_func = _function(func, "pruning_func")

    def fit(self) -> Model:
        from lpot.experimental._imports import framework_module

        model = self._require_model()
        require_pytorch(model, "Pruning", "lpot_tensorflow.PruningCallback(config) in model.fit")
        if self._train_func is None:
            require_training_loop("Pruning", "pruning.train", "prune.pruning_func")
        pruning = framework_module("lpot_pytorch.pruning", "lpot-pytorch")
        native = model.model
        self._pruner = pruning.Pruner(native, self.cfg)
        try:
            self._train_func(native)  # type: ignore[misc]
        finally:
            pruned = self._pruner.strip()
            self._pruner = None
        log.info("Model pruning is done; sparsity per layer: %s", pruning.sparsity_report(pruned))
        self._log_score(self._evaluator(), "Pruned model", _inference(pruned))
        return Model.produced(pruned, model.backend)

    # LPOT 1.x's callbacks ------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int) -> None:
        self._active().on_epoch_begin(epoch)
        self._epoch = epoch

    def on_batch_begin(self, batch_id: int) -> None:
        """Nothing to do: the masks apply in every forward pass."""
        self._active()

    def on_post_grad(self) -> None:
        """After ``backward``: gradient-sensitivity pruners accumulate |weight x gradient|."""
        self._active().on_step_end()

    def on_batch_end(self) -> None:
        """Nothing to do: pruned weights cannot grow back (the optimizer updates the masked original)."""
        self._active()

    def on_epoch_end(self) -> None:
        pruner = self._active()
        pruner.on_epoch_end(self._epoch)
        log.info("epoch %d sparsity: %s", self._epoch, pruner.sparsity())

    def pre_epoch_begin(self) -> None:
        """LPOT 1.x's hook before the first epoch: the pruner is set up by ``fit`` already."""
        self._active()

    def post_epoch_end(self) -> None:
        """LPOT 1.x's hook after the last epoch: ``fit`` bakes the masks in when training returns."""
        self._active()

    def _active(self) -> Any:
        if self._pruner is None:
            raise ConfigError(
                "the pruning callbacks run inside prune.pruning_func, while prune() (or prune.fit()) trains"
            )
        return self._pruner

    def __repr__(self) -> str:
        return "Pruning"
