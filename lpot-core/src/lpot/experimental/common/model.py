"""``common.Model``: a model (object or path) and the lpot backend that serves it.

The framework is the one the component's config names (``model.framework``), else detected the
way ``lpot.tune`` detects it, by asking the installed backends (``lpot.plugins``); nothing here
imports a framework. Components return one too: the tuned,
pruned or distilled model, with ``.model`` (native) and ``.save(path)``; a quantized one also keeps
the :class:`lpot.TuningResult` as ``.result``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lpot.errors import ConfigError, FeatureNotAvailableError, ModelError


class Model:
    """``Model(torch_module)``, ``Model("model.onnx")``, ``Model(keras_model)``, ``Model("saved_model/")``,
    ``Model(gluon_block)``: whatever an installed backend accepts."""

    def __init__(self, root: Any, **kwargs: Any) -> None:
        if kwargs:
            raise ConfigError(
                f"common.Model(..., {', '.join(sorted(kwargs))}=...): lpot takes the model alone (TF1 "
                "estimators and their input_fn are not supported); pass the model object or its path"
            )
        if isinstance(root, Model):  # a model one component returned, handed to the next
            self.__dict__.update(root.__dict__)
            return
        _check_path(root)
        self.root = root
        self.result: Any = None
        self._backend: Any = None
        self._loaded: Any = None

    @classmethod
    def produced(cls, native: Any, backend: Any, result: Any = None) -> Model:
        """A model a component made (its backend known, no detection), with its TuningResult if any."""
        model = cls.__new__(cls)
        model.root, model._backend, model.result, model._loaded = native, backend, result, None
        return model

    @property
    def backend(self) -> Any:
        """The lpot backend of this model: the one the component's config names, else the first
        installed backend that accepts it (detected when first needed)."""
        if self._backend is None:
            from lpot import plugins

            self._backend = plugins.backend_for(self.root)
        return self._backend

    def bind(self, framework: str) -> None:
        """Serve the model with the backend a config's ``model.framework`` names (a backend or one of
        the LPOT names it answers to), as ``lpot.tune`` does, when no backend's ``accepts`` takes it."""
        from lpot import plugins

        self._backend = plugins.backend_for_framework(framework)[0]

    @property
    def framework(self) -> str:
        """The lpot backend serving this model: ``onnxrt``, ``pytorch``, ``tensorflow``, ``mxnet``..."""
        return str(self.backend.name)

    @property
    def model(self) -> Any:
        """The native model: the object given (trained in place by pruning), or the file loaded."""
        if not isinstance(self.root, (str, os.PathLike)):
            return self.root
        if self._loaded is None:
            self._loaded = self.backend.load(self.root)
        return self._loaded

    @model.setter
    def model(self, native: Any) -> None:
        self.root, self._loaded = native, None

    def save(self, root: str | os.PathLike[str]) -> Path:
        """Write the model in its framework's format; a quantized one also gets ``recipe.json`` and
        ``summary.json`` (for PyTorch, what ``lpot.utils.pytorch.load(root, fp32_model)`` reads)."""
        if self.result is not None:
            return Path(self.result.save(root))
        out = Path(root).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        return Path(self.backend.save(self.model, out))

    @property
    def graph_def(self) -> Any:
        raise FeatureNotAvailableError(
            "q_model.graph_def is LPOT 1.x's TF1 frozen graph; lpot's TensorFlow backend produces a TFLite "
            "model instead: run q_model.model(inputs) (an lpot_tensorflow.TFLiteModel), write it with "
            "q_model.save(folder), or keep the Keras model and quantize it as a whole"
        )

    def __repr__(self) -> str:
        what = repr(self.root) if isinstance(self.root, (str, os.PathLike)) else type(self.root).__name__
        status = f", status={self.result.status!r}" if self.result is not None else ""
        return f"Model({what}, framework={self.framework!r}{status})"


def _check_path(root: Any) -> None:
    if not isinstance(root, (str, os.PathLike)):
        return
    path = Path(root).expanduser()
    if not path.exists():
        raise ModelError(f"common.Model: {str(root)!r} does not exist")
    if path.suffix == ".pb" and path.name != "saved_model.pb":
        raise FeatureNotAvailableError(
            f"common.Model: {str(root)!r} looks like a TF1 frozen graph, which lpot does not tune; "
            "export a SavedModel folder or a Keras model and pass that"
        )
