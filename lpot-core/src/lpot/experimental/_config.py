"""The config of an LPOT 1.x component: the YAML loaded by lpot's own loader, plus what only the
components read (``model_conversion``), what lpot refuses with a reason (IPEX, ITEX), and the
edits a component's attributes make (``.metric``, ``.objective``) on the frozen Config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from lpot.config import AccuracyConfig, Config, MetricConfig
from lpot.config.loader import parse_config, read_yaml
from lpot.errors import ConfigError, FeatureNotAvailableError


def load_component_config(source: Any, own_sections: tuple[str, ...] = ()) -> tuple[Config, dict[str, Any]]:
    """``(Config, {section: raw value})`` from a YAML path, a dict in the same layout, a Config or
    None; ``own_sections`` are taken out before lpot validates the rest (only the component reads them)."""
    if source is None:
        return Config(), {}
    if isinstance(source, Config):
        return source, {}
    where = None
    if isinstance(source, (str, os.PathLike)):
        where = os.fspath(source)
        data = read_yaml(where)
    elif isinstance(source, Mapping):
        data = dict(source)
    else:
        raise ConfigError(
            f"a component takes the path of its YAML file (or a dict / lpot.Config), got {type(source).__name__}"
        )
    model = data.get("model")
    framework = model.get("framework") if isinstance(model, Mapping) else None
    if isinstance(framework, str):
        _refuse_unavailable(framework, where)
    own = {key: data.pop(key) for key in own_sections if key in data}
    return parse_config(data, source=where), own


def _refuse_unavailable(framework: str, where: str | None) -> None:
    """A framework name an installed backend answers with a reason (an Intel extension lpot does not
    drive): said when the component is made, not when it runs."""
    from lpot import plugins

    if framework not in plugins.available("lpot.frameworks"):
        return
    try:
        plugins.backend_for_framework(framework)
    except FeatureNotAvailableError as exc:
        raise FeatureNotAvailableError(f"{where}: {exc}" if where else str(exc)) from None


def with_metric(cfg: Config, name: str) -> Config:
    """``cfg`` evaluating with the metric registered as ``name``, which already holds any postprocess."""
    accuracy = cfg.evaluation.accuracy or AccuracyConfig()
    accuracy = replace(accuracy, metric=MetricConfig(name=name), postprocess=None)
    return replace(cfg, evaluation=replace(cfg.evaluation, accuracy=accuracy))


def with_objective(cfg: Config, name: str) -> Config:
    return replace(cfg, tuning=replace(cfg.tuning, objective=name))
