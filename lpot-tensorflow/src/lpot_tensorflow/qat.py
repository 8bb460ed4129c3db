"""Quantization-aware training the Keras way: a callback in ``model.fit``, then :func:`convert`.

``prepare_qat(model, layers, calibration)`` makes the chosen layers fake-quantize, in place:
their input (8-bit asymmetric, range calibrated from data) and, for Conv and Dense, their kernel
(8-bit symmetric per output channel, straight-through gradient). Ranges and the on/off switch are
non-trainable ``tf.Variable``-backed Keras variables, so the compiled train step sees updates
without retracing (Python attributes would be frozen into the trace).

``QuantizationAwareCallback`` drives it inside ``fit``: prepares at train begin, re-calibrates the
ranges on its calibration data after each epoch, and at ``freeze_epoch`` freezes the ranges and
puts BatchNormalization in inference mode (the one change that needs a retrace: it rebuilds the
train function). ``convert(model)`` removes the fake-quant and writes a full-integer TFLite model
whose ranges for the QAT layers' inputs are the trained ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
from keras import ops

from lpot.errors import ConfigError, DataError, QuantizationError
from lpot.recipe import Recipe
from lpot_tensorflow import tflite
from lpot_tensorflow.calibration import build_template, take
from lpot_tensorflow.layers import quantizable_layers

STATE = "_lpot_qat"


@dataclass
class _LayerState:
    layer: Any
    original_call: Callable[..., Any]
    lo: Any
    hi: Any


@dataclass
class QatState:
    """What ``prepare_qat`` attached to a model (kept on it as ``model._lpot_qat``)."""

    layers: dict[str, _LayerState]
    enabled: Any
    calibration: list[Any]
    frozen: bool = False
    bn_calls: dict[str, Callable[..., Any]] = field(default_factory=dict)


def _batches(data: Any, samples: int) -> list[Any]:
    if data is None:
        return []
    if isinstance(data, np.ndarray):
        return [data[i : i + 32] for i in range(0, min(len(data), samples), 32)]
    return take(data, samples)


def _fake_quant_weight(kernel: Any) -> Any:
    axes = tuple(range(len(kernel.shape) - 1))
    bound = ops.maximum(ops.max(ops.abs(ops.stop_gradient(kernel)), axis=axes), 1e-8)
    return keras.quantizers.fake_quant_with_min_max_vars(
        kernel, -bound, bound, num_bits=8, narrow_range=True, axis=-1
    )


def _wrapped_call(state: _LayerState, enabled: Any) -> Callable[..., Any]:
    layer = state.layer
    kind = type(layer).__name__

    def call(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        q = keras.quantizers.fake_quant_with_min_max_vars(inputs, state.lo, state.hi, num_bits=8)
        x = enabled * q + (1.0 - enabled) * inputs
        if kind in ("Conv1D", "Conv2D", "Conv3D") and not kwargs and not args:
            kernel = layer.kernel
            k = enabled * _fake_quant_weight(kernel) + (1.0 - enabled) * kernel
            out = layer.convolution_op(x, k)
            if layer.use_bias:
                out = ops.add(out, ops.reshape(layer.bias, (1,) * (layer.rank + 1) + (layer.filters,)))
            return layer.activation(out) if layer.activation is not None else out
        if kind == "Dense" and not args and getattr(layer, "quantization_mode", None) is None:
            kernel = layer.kernel
            k = enabled * _fake_quant_weight(kernel) + (1.0 - enabled) * kernel
            out = ops.matmul(x, k)
            if layer.use_bias:
                out = ops.add(out, layer.bias)
            return layer.activation(out) if layer.activation is not None else out
        return state.original_call(x, *args, **kwargs)

    return call


def prepare_qat(
    model: Any, layers: Sequence[str] | None = None, calibration: Any = None, samples: int = 256
) -> Any:
    """Fake-quantize ``layers`` (default: every quantizable top-level layer) of ``model`` in place."""
    existing = getattr(model, STATE, None)
    if existing is not None:
        return model
    top = {layer.name: layer for layer in model.layers}
    names = list(layers) if layers is not None else [r.path for r in quantizable_layers(model) if r.top_level]
    missing = [n for n in names if n not in top]
    if missing:
        raise ConfigError(
            f"QAT: no top-level layer named {missing} in {model.name!r}; layers: {sorted(top)[:12]}"
        )
    enabled = keras.Variable(0.0, trainable=False, name="lpot_qat_enabled")
    states = {}
    for name in names:
        layer = top[name]
        lo = keras.Variable(0.0, trainable=False, name=f"lpot_qat_{name}_lo")
        hi = keras.Variable(1.0, trainable=False, name=f"lpot_qat_{name}_hi")
        state = _LayerState(layer, layer.call, lo, hi)
        layer.call = _wrapped_call(state, enabled)
        states[name] = state
    qat = QatState(states, enabled, _batches(calibration, samples))
    object.__setattr__(model, STATE, qat)
    if qat.calibration:
        calibrate_ranges(model)
        enabled.assign(1.0)
    return model


def calibrate_ranges(model: Any, batches: Iterable[Any] | None = None) -> None:
    """Set each QAT layer's input range to the min/max seen on the calibration data."""
    qat: QatState = getattr(model, STATE)
    data = list(batches) if batches is not None else qat.calibration
    if not data:
        raise DataError("QAT needs calibration data for the activation ranges: pass calibration=...")
    names = list(qat.layers)
    probe = keras.Model(model.inputs, [qat.layers[n].layer.input for n in names])
    lows = {n: np.inf for n in names}
    highs = {n: -np.inf for n in names}
    for batch in data:
        outs = probe.predict_on_batch(batch)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for n, v in zip(names, outs):
            v = np.asarray(v)
            lows[n], highs[n] = min(lows[n], float(v.min())), max(highs[n], float(v.max()))
    for n in names:
        lo, hi = min(lows[n], 0.0), max(highs[n], 0.0)  # zero must be representable
        qat.layers[n].lo.assign(lo)
        qat.layers[n].hi.assign(hi if hi > lo else lo + 1e-6)


def freeze(model: Any) -> None:
    """Fix the ranges and run BatchNormalization on its moving statistics from now on."""
    qat: QatState = getattr(model, STATE)
    qat.frozen = True
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization" and layer.name not in qat.bn_calls:
            original = layer.call
            qat.bn_calls[layer.name] = original

            def frozen_call(
                inputs: Any, training: Any = None, mask: Any = None, _orig: Any = original
            ) -> Any:
                return _orig(inputs, training=False, mask=mask)

            layer.call = frozen_call


class QuantizationAwareCallback(keras.callbacks.Callback):
    """``model.fit(..., callbacks=[QuantizationAwareCallback(x_calib)])``, then ``convert(model)``.

    ``calibration_data``: input batches (an array, or an iterable of ``(inputs, labels)``) the
    activation ranges are measured on; ``layers``: names of the layers to quantize (default every
    Conv/Dense-like layer); ``freeze_epoch``: after that many epochs, ranges and BatchNormalization
    statistics stop moving (default: never, ranges re-measured after every epoch).
    """

    def __init__(
        self,
        calibration_data: Any,
        layers: Sequence[str] | None = None,
        freeze_epoch: int | None = None,
        samples: int = 256,
    ) -> None:
        super().__init__()
        self.calibration_data = calibration_data
        self.layers = layers
        self.freeze_epoch = freeze_epoch
        self.samples = samples

    def on_train_begin(self, logs: Any = None) -> None:
        prepare_qat(self.model, self.layers, self.calibration_data, self.samples)
        qat: QatState = getattr(self.model, STATE)
        if not qat.calibration:
            qat.calibration = _batches(self.calibration_data, self.samples)
            calibrate_ranges(self.model)
            qat.enabled.assign(1.0)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        qat: QatState = getattr(self.model, STATE)
        if qat.frozen:
            return
        calibrate_ranges(self.model)
        if self.freeze_epoch is not None and epoch + 1 >= self.freeze_epoch:
            freeze(self.model)
            self.model.make_train_function(force=True)


def strip(model: Any) -> QatState:
    """Remove the fake-quant (and BN freezing) from ``model``; return what was attached."""
    qat: QatState | None = getattr(model, STATE, None)
    if qat is None:
        raise QuantizationError(
            f"{model.name!r} was not prepared for QAT: train it with QuantizationAwareCallback "
            "(or prepare_qat) before convert()"
        )
    for state in qat.layers.values():
        state.layer.__dict__.pop("call", None)
    for name in qat.bn_calls:
        model.get_layer(name).__dict__.pop("call", None)
    object.__setattr__(model, STATE, None)
    return qat


def convert(model: Any, calibration_data: Any = None) -> Any:
    """The QAT model as a full-integer TFLite model (an lpot ``TFLiteModel``).

    The converter's calibration sees the callback's calibration data; the inputs of the QAT layers
    then take the ranges training used. The model itself is left float (fake-quant removed).
    """
    from lpot_tensorflow.quantizer import quantize_tflite
    from lpot_tensorflow.recipe_builder import recipe_for

    qat = strip(model)
    batches = _batches(calibration_data, 1 << 30) if calibration_data is not None else qat.calibration
    if not batches:
        raise DataError("convert() needs calibration data: none was given to the callback or here")
    template = build_template(model, batches)
    ranges = tflite.read_ranges(template.content)
    inputs_of = tflite.op_inputs(template.content)
    for name, state in qat.layers.items():
        entry = template.layers.get(name)
        if entry is None:
            continue
        for out in entry.outputs:
            tensor = inputs_of.get(out)
            if tensor in ranges:
                ranges[tensor] = (float(state.lo.numpy()), float(state.hi.numpy()))
    recipe: Recipe = recipe_for(model, list(qat.layers))
    return quantize_tflite(recipe, ranges, template)


def quantize_aware(
    model: Any, recipe: Recipe, q_func: Callable[[Any], Any] | None, dataloader: Iterable[Any] | None
) -> Any:
    """lpot.tune's QAT: copy, fake-quantize the recipe's INT8 layers, ``q_func(copy)`` trains, convert."""
    from lpot_tensorflow.keras_int8 import clone

    if q_func is None:
        raise ConfigError(
            "quant_aware_training needs a training function: tune(model, q_func=train, ...) where "
            "train(model) compiles and fits the model it is given"
        )
    if dataloader is None:
        raise DataError("QAT needs calibration data (q_dataloader) for the activation ranges")
    work = clone(model)
    layers = [k.name for k in recipe.quantized_ops()]
    prepare_qat(work, layers, take(dataloader, recipe.calib_sampling_size))
    returned = q_func(work)
    if isinstance(returned, keras.Model):
        work = returned
    return convert(work)
