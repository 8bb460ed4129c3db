"""Pruning as a Keras callback: ``model.fit(..., callbacks=[PruningCallback(config)])``.

The masks are non-trainable ``keras.Variable``s held by the callback, one per pruned kernel; they
change at epoch begin as the schedule says and are applied to the kernel after every training
batch, so the optimizer's update of a pruned weight is undone before the next step sees it.
``strip(model)`` (or ``callback.strip()``) bakes them in once more and returns the plain model:
there is no wrapper layer to remove, so the result saves and converts like any Keras model.

Scores: ``magnitude`` |w|; ``gradient_sensitivity`` |w * dw| where dw is the weight's movement
since the last mask update (callbacks never see gradients; with SGD the movement is the summed
gradient times the learning rate, the quantity movement pruning uses); ``pattern_lock`` keeps the
zeros the kernel has when training begins. Kernels are reshaped to ``[out, ...]`` for the pattern
(:mod:`lpot.compression.patterns`), so N:M groups run along the input channels.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from lpot.compression.config import PrunerSpec, pruning_config
from lpot.errors import ConfigError

PRUNABLE = ("Dense", "Conv1D", "Conv2D", "Conv3D")


def _prunable(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model._flatten_layers(include_self=False) if type(layer).__name__ in PRUNABLE]


def _out_first(array: np.ndarray) -> np.ndarray:
    return np.moveaxis(array, -1, 0)  # Keras kernels end with the output axis


class PruningCallback(keras.callbacks.Callback):
    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = pruning_config(config)
        self.layers: dict[str, tuple[keras.layers.Layer, PrunerSpec]] = {}
        self.masks: dict[str, keras.Variable] = {}
        self._snapshots: dict[str, np.ndarray] = {}

    def on_train_begin(self, logs: Any = None) -> None:
        if self.layers:  # a second fit() continues with the same masks
            return
        for layer in _prunable(self.model):
            spec = next((p for p in self.config.pruners if p.selects(layer.name)), None)
            if spec is None:
                continue
            kernel = np.asarray(layer.kernel)
            start = (kernel != 0).astype("float32") if spec.method == "pattern_lock" else np.ones_like(kernel)
            self.layers[layer.name] = (layer, spec)
            self.masks[layer.name] = keras.Variable(start, trainable=False, name=f"{layer.name}_prune_mask")
            self._snapshots[layer.name] = kernel.copy()
        if not self.layers:
            names = [p.names for p in self.config.pruners]
            raise ConfigError(f"pruning: no Dense/Conv layer of {self.model.name} matches names {names}")

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        for name, (layer, spec) in self.layers.items():
            target = spec.target_at(epoch)
            if target is None:
                continue
            kernel = np.asarray(layer.kernel)
            mask = np.asarray(self.masks[name])
            if spec.method == "gradient_sensitivity" and np.any(kernel != self._snapshots[name]):
                score = np.abs(kernel * (kernel - self._snapshots[name]))
            else:
                score = np.abs(kernel)
            new = np.moveaxis(spec.pattern.mask(_out_first(score * mask), target), 0, -1)
            self.masks[name].assign(new.astype("float32"))
            layer.kernel.assign(kernel * new)
            self._snapshots[name] = np.asarray(layer.kernel).copy()

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        for name, (layer, _) in self.layers.items():
            layer.kernel.assign(layer.kernel * self.masks[name])

    def sparsity(self) -> dict[str, float]:
        return sparsity_report(self.model, self.layers)

    def strip(self) -> keras.Model:
        """The model with the masks applied to plain kernels (nothing to unwrap)."""
        self.on_train_batch_end(-1)
        return self.model


def strip(model: keras.Model, callback: PruningCallback | None = None) -> keras.Model:
    return callback.strip() if callback is not None else model


def sparsity_report(model: keras.Model, layers: Any = None) -> dict[str, float]:
    """Fraction of zero weights per Dense/Conv kernel."""
    wanted = set(layers) if layers is not None else None
    return {
        layer.name: float(np.mean(np.asarray(layer.kernel) == 0))
        for layer in _prunable(model)
        if wanted is None or layer.name in wanted
    }
