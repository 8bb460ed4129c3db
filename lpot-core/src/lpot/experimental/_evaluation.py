"""How a component scores a model: its ``eval_func``, or a metric over its evaluation data.

The metric is the user's (``.metric = common.Metric(...)``, ``.postprocess = common.Postprocess(...)``)
or the config's ``evaluation.accuracy`` one. ``lpot.tune`` reads its metric from the config, so a
user metric is registered by name for the duration of one tuning run (:func:`registered`), the
way LPOT 1.x registered it, and unregistered after.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from lpot.config import Config
from lpot.errors import ConfigError, DataError


def user_metric(cfg: Config, metric: Any, postprocess: Any) -> Any:
    """The metric object for a component whose ``.metric`` or ``.postprocess`` is set, else None.

    A user postprocess replaces the config's; with a user metric alone, the config's postprocess
    still runs before it (both as in LPOT 1.x).
    """
    if metric is None and postprocess is None:
        return None
    from lpot.metrics import as_metric
    from lpot.tuning.evaluation import PostprocessedMetric

    base = as_metric(metric.metric_cls, dict(metric.kwargs)) if metric is not None else config_metric(cfg)
    if base is None:
        raise ConfigError(
            "a postprocess is set but no metric: set component.metric = common.Metric(...) or "
            "evaluation.accuracy.metric in the config"
        )
    steps = [postprocess.transform()] if postprocess is not None else config_postprocess(cfg)
    return PostprocessedMetric(base, steps) if steps else base


def config_metric(cfg: Config) -> Any:
    from lpot.metrics import create_metric

    accuracy = cfg.evaluation.accuracy
    if accuracy is None or accuracy.metric is None:
        return None
    return create_metric(accuracy.metric.name, dict(accuracy.metric.params))


def config_postprocess(cfg: Config) -> list[Any]:
    from lpot.api import _postprocess

    return _postprocess(cfg)


def evaluation_metric(cfg: Config, metric: Any, postprocess: Any) -> Any:
    """The user's metric, else the config's (with the config's postprocess), else None."""
    chosen = user_metric(cfg, metric, postprocess)
    if chosen is not None:
        return chosen
    base = config_metric(cfg)
    if base is None:
        return None
    from lpot.tuning.evaluation import PostprocessedMetric

    steps = config_postprocess(cfg)
    return PostprocessedMetric(base, steps) if steps else base


def config_loader(cfg: Config, section: str) -> Any:
    """The loader an ``evaluation.<section>`` (or calibration) ``dataloader`` of the config declares."""
    from lpot.data.builder import build_dataloader

    if section == "calibration":
        spec, where = cfg.quantization.calibration.dataloader, "quantization.calibration.dataloader"
    else:
        part = getattr(cfg.evaluation, section)
        spec, where = (part.dataloader if part else None), f"evaluation.{section}.dataloader"
    if not spec:
        return None
    try:
        return build_dataloader(spec, where=where, seed=cfg.tuning.random_seed)
    except DataError as exc:
        raise DataError(f"{cfg.source}: {exc}" if cfg.source else str(exc)) from None


@contextlib.contextmanager
def registered(name: str, metric: Any) -> Iterator[None]:
    """``metric`` (an instance) resolves as ``name`` inside the block; what ``name`` meant before
    comes back after."""
    from lpot.metrics import user

    previous = user.registered(name)
    user.register(name, metric)
    try:
        yield
    finally:
        if previous is None:
            user.unregister(name)
        else:
            user.register(name, previous[0], higher_is_better=previous[1])


def score(backend: Any, native: Any, dataloader: Iterable[Any], metric: Any) -> float:
    """``metric`` of ``native`` over ``dataloader`` through the backend, as a finite float."""
    from lpot.tuning.evaluation import _finite

    return _finite(backend.evaluate(native, dataloader, metric), f"metric {type(metric).__name__}")
