"""``ModelConversion``: a Keras model trained with quantization-aware training, made INT8.

    conversion = ModelConversion()                # or ModelConversion("conf.yaml")
    conversion.source = "QAT"
    conversion.destination = "default"
    conversion.model = common.Model(keras_model)  # trained with lpot_tensorflow.QuantizationAwareCallback
    q_model = conversion()                        # .model: an lpot_tensorflow.TFLiteModel

LPOT 1.x converted SavedModels of ``tensorflow_model_optimization``; lpot's Keras 3 QAT is
``lpot_tensorflow.QuantizationAwareCallback`` (tfmot needs legacy tf-keras), and the conversion is
``lpot_tensorflow.convert``. With an evaluation set, the QAT and converted models are both scored.
"""

from __future__ import annotations

import os
from typing import Any

from lpot.errors import ConfigError, FeatureNotAvailableError
from lpot.experimental.common import Model
from lpot.experimental.component import Component


def _choice(value: Any, allowed: str, what: str) -> str:
    if not isinstance(value, str) or value.lower() != allowed:
        raise ConfigError(
            f"ModelConversion.{what}: only {allowed!r} is supported (a Keras QAT model to a quantized "
            f"TFLite model), got {value!r}"
        )
    return allowed


class ModelConversion(Component):
    own_sections = ("model_conversion",)

    def __init__(self, conf_fname: Any = None) -> None:
        super().__init__(conf_fname)
        section = self.sections.get("model_conversion") or {}
        if not isinstance(section, dict):
            raise ConfigError(
                f"model_conversion: expected {{source: QAT, destination: default}}, got {section!r}"
            )
        unknown = sorted(set(section) - {"source", "destination"})
        if unknown:
            raise ConfigError(f"model_conversion: unknown key {unknown[0]!r}; expected source, destination")
        self._source = _choice(section.get("source", "qat"), "qat", "source")
        self._destination = _choice(section.get("destination", "default"), "default", "destination")

    @property
    def source(self) -> str:
        return self._source

    @source.setter
    def source(self, value: str) -> None:
        self._source = _choice(value, "qat", "source")

    @property
    def destination(self) -> str:
        return self._destination

    @destination.setter
    def destination(self, value: str) -> None:
        self._destination = _choice(value, "default", "destination")

    def fit(self) -> Model:
        from lpot.experimental._imports import framework_module

        model = self._require_model()
        if model.framework != "tensorflow":
            raise FeatureNotAvailableError(
                f"ModelConversion converts Keras QAT models; for a {model.framework!r} model use Quantization "
                "with quantization.approach: quant_aware_training and q_func"
            )
        if isinstance(model.root, (str, os.PathLike)):
            raise FeatureNotAvailableError(
                f"ModelConversion: {os.fspath(model.root)!r} is a saved model; LPOT 1.x's "
                "tensorflow_model_optimization QAT graphs are not converted. Train the Keras model with "
                "lpot_tensorflow.QuantizationAwareCallback and pass the model object"
            )
        qat = framework_module("lpot_tensorflow.qat", "lpot-tensorflow")
        evaluate = self._evaluator()
        self._log_score(evaluate, "The Quantization-Aware Training model", model.model)
        converted = qat.convert(model.model)
        self._log_score(evaluate, "Converted model", converted)
        return Model.produced(converted, model.backend)

    def __repr__(self) -> str:
        return "ModelConversion"
