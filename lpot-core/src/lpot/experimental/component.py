"""What every LPOT 1.x component shares: its config, the model, the data, the evaluation, and the
attributes 1.x scripts set (``.model``, ``.eval_dataloader``, ``.eval_func``, ``.metric`` ...).

A component only gathers what the script sets; ``fit()`` (or calling the component) hands it to
lpot's own API: ``lpot.tune``, ``lpot.benchmark``, the framework packages' pruning, distillation
and QAT conversion. Nothing here imports a framework.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from lpot.errors import BackendNotFoundError, ConfigError, DataError
from lpot.experimental._config import load_component_config
from lpot.experimental.common import Metric, Model, Postprocess

log = logging.getLogger("lpot")


class Component:
    """Base of Quantization, Pruning, Distillation, ModelConversion, Graph_Optimization.

    ``conf_fname``: the YAML file (LPOT 1.x layout; a dict or an :class:`lpot.Config` too), or None
    where 1.x allowed it. ``cfg`` is the validated :class:`lpot.Config`.
    """

    own_sections: tuple[str, ...] = ()  # YAML sections only this component reads

    def __init__(self, conf_fname: Any = None) -> None:
        self.conf_fname = conf_fname
        self.cfg, self.sections = load_component_config(conf_fname, self.own_sections)
        self._model: Model | None = None
        self._train_func: Callable[..., Any] | None = None
        self._eval_func: Callable[[Any], Any] | None = None
        self._train_dataloader: Iterable[Any] | None = None
        self._eval_dataloader: Iterable[Any] | None = None
        self._metric: Metric | None = None
        self._postprocess: Postprocess | None = None

    # running ----------------------------------------------------------------------------------
    def fit(self) -> Any:
        raise NotImplementedError

    def __call__(self) -> Any:
        return self.fit()

    def __repr__(self) -> str:
        return type(self).__name__

    # what 1.x scripts set -----------------------------------------------------------------------
    @property
    def model(self) -> Model | None:
        return self._model

    @model.setter
    def model(self, user_model: Any) -> None:
        self._model = self._as_model(user_model, "model")

    @property
    def eval_func(self) -> Callable[[Any], Any] | None:
        return self._eval_func

    @eval_func.setter
    def eval_func(self, func: Callable[[Any], Any] | None) -> None:
        self._eval_func = _function(func, "eval_func")

    @property
    def train_func(self) -> Callable[..., Any] | None:
        return self._train_func

    @train_func.setter
    def train_func(self, func: Callable[..., Any] | None) -> None:
        self._train_func = _function(func, "train_func")

    @property
    def eval_dataloader(self) -> Iterable[Any] | None:
        return self._eval_dataloader

    @eval_dataloader.setter
    def eval_dataloader(self, dataloader: Iterable[Any] | None) -> None:
        self._eval_dataloader = _loader(dataloader, "eval_dataloader")

    @property
    def train_dataloader(self) -> Iterable[Any] | None:
        return self._train_dataloader

    @train_dataloader.setter
    def train_dataloader(self, dataloader: Iterable[Any] | None) -> None:
        self._train_dataloader = _loader(dataloader, "train_dataloader")

    @property
    def metric(self) -> Metric | None:
        return self._metric

    @metric.setter
    def metric(self, user_metric: Metric | None) -> None:
        if user_metric is not None and not isinstance(user_metric, Metric):
            raise ConfigError(
                f"{self!r}.metric takes lpot.experimental.common.Metric(metric_cls, name), got "
                f"{type(user_metric).__name__}"
            )
        if user_metric is not None and self.cfg.evaluation.accuracy and self.cfg.evaluation.accuracy.metric:
            log.warning("%r.metric replaces evaluation.accuracy.metric of the config", self)
        self._metric = user_metric

    @property
    def postprocess(self) -> Postprocess | None:
        return self._postprocess

    @postprocess.setter
    def postprocess(self, user_postprocess: Postprocess | None) -> None:
        if user_postprocess is not None and not isinstance(user_postprocess, Postprocess):
            raise ConfigError(
                f"{self!r}.postprocess takes lpot.experimental.common.Postprocess(cls, name, **kwargs), got "
                f"{type(user_postprocess).__name__}"
            )
        self._postprocess = user_postprocess

    @property
    def framework(self) -> str | None:
        """The config's ``model.framework``, else the backend serving the model set (None before)."""
        if self.cfg.model.framework:
            return self.cfg.model.framework
        return self._model.framework if self._model is not None else None

    def dataset(self, dataset_type: str, *args: Any, **kwargs: Any) -> Any:
        """A dataset by its LPOT name (``dummy``, ``ImageFolder``, ``ImagenetRaw``, ...), for
        :class:`common.DataLoader`; its parameters by keyword, as in the YAML."""
        from lpot.data.builder import build_dataset

        if args:
            raise ConfigError(
                f"{self!r}.dataset({dataset_type!r}, ...): pass the dataset's parameters by name, "
                "as in the YAML (e.g. dataset('dummy', shape=[100, 3, 32, 32]))"
            )
        return build_dataset(
            {dataset_type: kwargs}, f"dataset({dataset_type!r})", self.cfg.tuning.random_seed
        )

    # for the components ---------------------------------------------------------------------------
    def _as_model(self, user_model: Any, role: str) -> Model:
        model = user_model if isinstance(user_model, Model) else Model(user_model)
        framework = self.cfg.model.framework
        if framework is None:
            _ = model.backend  # detect now: a model no backend takes fails where it is set
            return model
        from lpot import plugins

        wanted = plugins.framework_names().get(framework, framework)
        try:
            detected = model.framework
        except BackendNotFoundError:  # a model only the named backend reads: it loads it
            model.bind(framework)
            detected = wanted
        if detected != wanted:
            where = f"{self.cfg.source}: " if self.cfg.source else ""
            raise ConfigError(
                f"{where}model.framework is {self.cfg.model.framework!r} (backend {wanted!r}), but the "
                f"{role} set is a {model.framework!r} model; fix model.framework or the model"
            )
        return model

    def _require_model(self) -> Model:
        if self._model is None:
            raise ConfigError(f"{self!r}.model is not set: {self!r}.model = common.Model(your_model)")
        return self._model

    def _evaluator(self) -> Callable[[Any], float] | None:
        """Scores a native model with ``eval_func``, or the metric over the evaluation data; None
        when the component has neither."""
        from lpot.experimental._evaluation import config_loader, evaluation_metric, score
        from lpot.tuning.evaluation import _finite

        eval_func = self._eval_func
        if eval_func is not None:
            return lambda native: _finite(eval_func(native), "eval_func")
        loader = self._eval_dataloader
        if loader is None:
            loader = config_loader(self.cfg, "accuracy")
        metric = evaluation_metric(self.cfg, self._metric, self._postprocess)
        if loader is None or metric is None:
            return None
        backend = self._require_model().backend
        return lambda native: score(backend, _inference(native), loader, metric)

    def _log_score(self, evaluate: Callable[[Any], float] | None, what: str, native: Any) -> float | None:
        if evaluate is None:
            return None
        value = evaluate(native)
        log.info("%s score is %s.", what, value)
        return value


def _inference(native: Any) -> Any:
    """Models with a train/eval switch (torch modules) leave training mode before they are scored."""
    if callable(getattr(native, "eval", None)) and isinstance(getattr(native, "training", None), bool):
        native.eval()
    return native


def _function(func: Any, name: str) -> Any:
    if func is not None and not callable(func):
        raise ConfigError(f"{name} must be a function of the model, got {type(func).__name__}")
    return func


def _loader(dataloader: Any, name: str) -> Any:
    if dataloader is not None and not isinstance(dataloader, Iterable):
        raise DataError(
            f"{name} must be an iterable of (input, label) batches, such as common.DataLoader(dataset), "
            f"got {type(dataloader).__name__}"
        )
    return dataloader
