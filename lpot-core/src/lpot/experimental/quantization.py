"""``Quantization``: LPOT 1.x's tuning component, run by ``lpot.tune``.

    quantizer = Quantization("conf.yaml")
    quantizer.model = common.Model(model)
    quantizer.calib_dataloader = common.DataLoader(dataset, batch_size=32)   # or from the YAML
    quantizer.eval_func = evaluate                                           # or eval_dataloader + metric
    q_model = quantizer()                                                    # or quantizer.fit()
    q_model.save("./output")

``q_model`` is a :class:`common.Model`: ``.model`` the tuned native model, ``.save(dir)`` writes it
with its recipe, ``.result`` the :class:`lpot.TuningResult` (status, accuracy, trials). Unlike
1.x, a run that misses the accuracy goal still returns the most accurate recipe found
(``q_model.result.status`` says so, and a warning is logged).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from lpot.errors import ConfigError
from lpot.experimental.common import Model
from lpot.experimental.component import Component, _function, _loader

log = logging.getLogger("lpot")


def accept_unchecked(model: Any) -> float:
    """LPOT 1.x's evaluation when a script gives none: every model scores the same, so the first
    recipe is kept (quantize once, accuracy not checked). Module-level so parallel workers import it."""
    return 1.0


class Quantization(Component):
    def __init__(self, conf_fname: Any = None) -> None:
        super().__init__(conf_fname)
        self._calib_dataloader: Iterable[Any] | None = None
        self._q_func: Callable[[Any], Any] | None = None
        self._objective: Any = None

    @property
    def calib_dataloader(self) -> Iterable[Any] | None:
        return self._calib_dataloader

    @calib_dataloader.setter
    def calib_dataloader(self, dataloader: Iterable[Any] | None) -> None:
        self._calib_dataloader = _loader(dataloader, "calib_dataloader")

    @property
    def q_func(self) -> Callable[[Any], Any] | None:
        """Quantization-aware training: ``q_func(model)`` trains the prepared (fake-quant) model in place."""
        return self._q_func

    @q_func.setter
    def q_func(self, func: Callable[[Any], Any] | None) -> None:
        self._q_func = _function(func, "q_func")

    # later 1.x releases named the QAT training function train_func
    train_func = q_func

    @property
    def objective(self) -> Any:
        return self._objective if self._objective is not None else self.cfg.tuning.objective

    @objective.setter
    def objective(self, objective: Any) -> None:
        """An objective name (``performance``, ``throughput``, ``model_size``, ``footprint``) or an
        object with ``measure(backend, model, dataloader)`` (:class:`lpot.objectives.Objective`)."""
        if not isinstance(objective, str) and not callable(getattr(objective, "measure", None)):
            raise ConfigError(
                "quantizer.objective takes an objective name (performance, throughput, model_size, "
                "footprint) or an lpot.objectives.Objective with measure(backend, model, dataloader); "
                f"got {type(objective).__name__} (LPOT 1.x's start()/end() objectives are not supported)"
            )
        self._objective = objective

    def fit(self) -> Model:
        """Tune with ``lpot.tune`` and return the tuned model."""
        import lpot
        from lpot.experimental import _config, _evaluation

        model = self._require_model()
        cfg = self.cfg
        if isinstance(self._objective, str):
            cfg = _config.with_objective(cfg, self._objective)
        metric = _evaluation.user_metric(cfg, self._metric, self._postprocess)
        scope: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
        if metric is not None:
            name = (self._metric or self._postprocess).name  # type: ignore[union-attr]
            cfg = _config.with_metric(cfg, name)
            scope = _evaluation.registered(name, metric)
        with scope:
            result = lpot.tune(
                model.root,
                q_dataloader=self._calib_dataloader,
                q_func=self._q_func,
                eval_dataloader=self._eval_dataloader,
                eval_func=self._tuning_eval_func(cfg),
                config=cfg,
                objective=None if isinstance(self._objective, str) else self._objective,
            )
        if result.met:
            log.info("Found a quantized model which meets the accuracy goal (%s).", result.status)
        else:
            log.warning(
                "No quantized model met the accuracy goal (%s, %s); returning the most accurate one found",
                result.status,
                result.stop_reason,
            )
        return Model.produced(result.model, model.backend, result)

    def _tuning_eval_func(self, cfg: Any) -> Callable[[Any], Any] | None:
        if self._eval_func is not None or self._eval_dataloader is not None:
            return self._eval_func
        accuracy = cfg.evaluation.accuracy
        if accuracy is not None and accuracy.dataloader:
            return None
        log.warning(
            "No evaluation given (eval_func, eval_dataloader or evaluation.accuracy.dataloader): "
            "quantizing once with the default recipe; accuracy is NOT checked (LPOT 1.x behaviour)"
        )
        return accept_unchecked

    def __repr__(self) -> str:
        return "Quantization"
