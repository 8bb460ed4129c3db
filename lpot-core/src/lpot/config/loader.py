"""Load a config from YAML (the LPOT 1.x layout), a dict, or a Config, with one-line errors.

Every error names the file, the dotted key from the root, the value found and what was expected;
unknown keys get a "did you mean". The loader only maps the YAML layout onto the schema's
constructors (which do the value checks); dataset, transform and dataloader sub-trees are kept
raw and validated when data is built, so a config whose dataset root is absent still loads.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from lpot.config import _checks as c
from lpot.config import bounds
from lpot.config._checks import InvalidField
from lpot.config.evaluation import (
    THREAD_KEYS,
    AccuracyConfig,
    EvaluationConfig,
    MetricConfig,
    PerformanceConfig,
)
from lpot.config.schema import RAW_SECTIONS, CalibrationConfig, Config, ModelConfig, QuantizationConfig
from lpot.config.tuning import (
    TUNING_EXTRA_KEYS,
    AccuracyCriterion,
    ExitPolicy,
    StrategyConfig,
    TuningConfig,
    WorkspaceConfig,
)
from lpot.errors import ConfigError

SECTIONS = ("version", "model", "device", "quantization", "evaluation", "tuning", "tensorboard")
ConfigSource = str | os.PathLike[str] | Mapping[str, Any] | Config | None


log = logging.getLogger("lpot")


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads LPOT 1.x's ``!Pruner`` tag (its pruning ``pruners`` list
    items) as the plain mapping it tags: data only, no object is ever constructed."""


_Loader.add_constructor("!Pruner", lambda loader, node: loader.construct_mapping(node, deep=True))


def load_config(source: ConfigSource = None) -> Config:
    """A validated :class:`Config` from a YAML path, a dict in the same layout, a Config, or None (defaults)."""
    if source is None:
        return Config()
    if isinstance(source, Config):
        return source
    if isinstance(source, Mapping):
        return parse_config(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return parse_config(read_yaml(path), source=path)
    raise ConfigError(
        f"config must be a YAML file path, a dict or an lpot.Config, got {type(source).__name__}"
    )


def read_yaml(path: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file (``yaml.safe_load``); an empty file is ``{}``."""
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"config file {path!r} does not exist")
    if file.is_dir():
        raise ConfigError(f"config file {path!r} is a directory; give the path of the YAML file in it")
    try:
        bounds.check_file_size(path, file.stat().st_size)
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from None
    bounds.check_yaml(text, path, _Loader)  # before anything is composed, expanded or hashed
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader: plain data only)
        duplicate = _duplicate_key(yaml.compose(text, Loader=_Loader), "", set())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML{_yaml_problem(exc)}") from None
    if duplicate:
        raise ConfigError(f"{path}: {duplicate}")
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections (model, quantization, evaluation, "
            f"tuning, ...), got {type(data).__name__}"
        )
    return dict(data)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return f": {exc}"
    mark, problem = exc.problem_mark, exc.problem or "invalid syntax"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    context = ""
    if exc.context and exc.context_mark:
        cm = exc.context_mark
        context = f" ({exc.context} started at line {cm.line + 1}, column {cm.column + 1})"
    if "'\\t'" in problem:
        problem += "; indent with spaces, not tabs"
    return f"{where}: {problem}{context}"


def _duplicate_key(node: yaml.Node, path: str, seen_nodes: set[int]) -> str | None:
    """PyYAML silently keeps the last of two equal keys; say so instead (with both lines)."""
    if id(node) in seen_nodes:
        return None
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            where = f"{path}.{key}" if path else str(key)
            if key is not None and key_node.tag != "tag:yaml.org,2002:merge":
                line = key_node.start_mark.line + 1
                if key in first_line:
                    return (
                        f"duplicate key {where!r} at line {line} (first at line {first_line[key]}); "
                        "YAML would keep only the last one: merge or remove one of them"
                    )
                first_line[key] = line
            found = _duplicate_key(value_node, where, seen_nodes)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, f"{path}[{i}]", seen_nodes)
            if found:
                return found
    return None


def parse_config(data: Mapping[str, Any], source: str | None = None) -> Config:
    """Validate ``data`` (the YAML layout) into a Config; ``source`` prefixes every message."""
    try:
        if not isinstance(data, Mapping):
            raise InvalidField("", f"the top level must be a mapping of sections, got {c.show(data)}")
        bounds.check_data(data, source or "config")
        return _config(copy.deepcopy(dict(data)), source)
    except InvalidField as exc:
        raise ConfigError(f"{source}: {exc}" if source else str(exc)) from None


def _config(data: dict[str, Any], source: str | None) -> Config:
    c.check_keys(data, (*SECTIONS, *RAW_SECTIONS))
    raw = {k: c.mapping(data[k], k) or {} for k in RAW_SECTIONS if k in data}
    _check_compression(raw)
    scalars = {k: data.get(k) for k in ("version", "device", "tensorboard")}
    return c.nested(
        "",
        Config,
        model=_model(data.get("model")),
        quantization=_quantization(data.get("quantization")),
        evaluation=_evaluation(data.get("evaluation")),
        tuning=_tuning(data.get("tuning")),
        extra_sections=raw,
        source=source,
        **_given(scalars),
    )


def _check_compression(raw: Mapping[str, Any]) -> None:
    """pruning / distillation stay raw in the Config (their users live in the framework packages)
    but are validated now, so a typo fails at load time with the file and key named."""
    from lpot.compression.config import parse_distillation, parse_pruning

    for key, parse in (("pruning", parse_pruning), ("distillation", parse_distillation)):
        if key in raw:
            c.nested(key, parse, raw[key])


def _section(value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The mapping at ``path`` (``{}`` when absent or null), its keys checked against ``allowed``."""
    data = c.mapping(value, path, "of keys") or {}
    c.check_keys(data, allowed, prefix=f"{path}.")
    return data


def _given(data: Mapping[str, Any]) -> dict[str, Any]:
    """A YAML null (``key:`` with nothing after it) means "not given": the default applies."""
    return {k: v for k, v in data.items() if v is not None}


def _model(value: Any) -> ModelConfig:
    d = _section(value, "model", ("name", "framework", "inputs", "outputs"))
    return c.nested("model", ModelConfig, **_given(d))


# LPOT keys lpot reads and does not use: accepted (configs load unchanged), said once at load.
IGNORED = {
    "quantization.recipes": "this lpot release has no such switches (SmoothQuant and bias correction "
    "are tuning dimensions of the backends that support them)",
    "quantization.advance": "LPOT 1.x's bias_correction switch; where a backend offers bias correction "
    "it is a tuning dimension",
    "quantization.train": "quantization-aware training runs your own training loop: pass it as "
    "lpot.tune(..., q_func=train)",
    "tuning.workspace.resume": "it names LPOT's pickled snapshot, which lpot never unpickles; resume "
    "with resume=True (lpot tune --resume)",
}


def _ignore(data: dict[str, Any], path: str, keys: tuple[str, ...]) -> None:
    for key in keys:
        if data.pop(key, None) not in (None, {}, [], ""):
            log.warning("%s.%s is ignored: %s", path, key, IGNORED[f"{path}.{key}"])


def _quantization(value: Any) -> QuantizationConfig:
    path = "quantization"
    keys = ("approach", "calibration", "model_wise", "op_wise", "recipes", "train", "advance")
    d = _section(value, path, keys)
    _ignore(d, path, ("recipes", "train", "advance"))
    cal = _section(d.pop("calibration", None), f"{path}.calibration", ("sampling_size", "dataloader"))
    calibration = c.nested(f"{path}.calibration", CalibrationConfig, **_given(cal))
    return c.nested(path, QuantizationConfig, calibration=calibration, **_given(d))


def _evaluation(value: Any) -> EvaluationConfig:
    d = _section(value, "evaluation", ("accuracy", "performance"))
    accuracy = performance = None
    if d.get("accuracy") is not None:
        path = "evaluation.accuracy"
        a = _section(d["accuracy"], path, ("metric", "dataloader", "postprocess", "configs", "max_batches"))
        metric = _metric(a.pop("metric", None), f"{path}.metric")
        accuracy = c.nested(path, AccuracyConfig, metric=metric, **_given(a))
    if d.get("performance") is not None:
        path = "evaluation.performance"
        p = _section(d["performance"], path, ("warmup", "iteration", "configs", "dataloader", "postprocess"))
        configs = _section(
            p.pop("configs", None), f"{path}.configs", ("cores_per_instance", "num_of_instance", *THREAD_KEYS)
        )
        fields = {k: configs.pop(k) for k in ("cores_per_instance", "num_of_instance") if k in configs}
        performance = c.nested(path, PerformanceConfig, extra=_given(configs), **_given(fields), **_given(p))
    return c.nested("evaluation", EvaluationConfig, accuracy=accuracy, performance=performance)


def _metric(value: Any, path: str) -> MetricConfig | None:
    """``{topk: 1}`` -> topk with ``{"k": 1}``; ``{COCOmAP: {...}}`` -> cocomap with those params;
    another scalar parameter becomes ``{"value": v}``; a bare name is a metric without parameters."""
    if value is None:
        return None
    if isinstance(value, str):
        return c.nested(path, MetricConfig, name=value)
    d = c.mapping(value, path, "with one metric, such as {topk: 1}") or {}
    if len(d) != 1:
        raise InvalidField(path, f"expected exactly one metric such as {{topk: 1}}, got {list(d)}")
    name, params = next(iter(d.items()))
    if not isinstance(name, str):
        raise InvalidField(path, f"expected a metric name such as topk, got {c.show(name)}")
    if params is None:
        params = {}
    elif not isinstance(params, Mapping):
        params = {"k": params} if name.lower() == "topk" else {"value": params}
    return c.nested(path, MetricConfig, name=name, params=params)


def _tuning(value: Any) -> TuningConfig:
    path = "tuning"
    keys = (
        "strategy",
        "accuracy_criterion",
        "objective",
        "staged_evaluation",
        "exit_policy",
        "random_seed",
        "data_version",
        "tensorboard",
        "workspace",
        "executor",
        *TUNING_EXTRA_KEYS,
    )
    d = _section(value, path, keys)
    extra = {k: d.pop(k) for k in TUNING_EXTRA_KEYS if k in d}
    exit_keys = ("timeout", "max_trials", "performance_only")
    exit_policy = _section(d.pop("exit_policy", None), f"{path}.exit_policy", exit_keys)
    workspace = _section(d.pop("workspace", None), f"{path}.workspace", ("path", "resume"))
    _ignore(workspace, f"{path}.workspace", ("resume",))
    return c.nested(
        path,
        TuningConfig,
        strategy=_strategy(d.pop("strategy", None), f"{path}.strategy"),
        accuracy_criterion=_criterion(d.pop("accuracy_criterion", None), f"{path}.accuracy_criterion"),
        exit_policy=c.nested(f"{path}.exit_policy", ExitPolicy, **_given(exit_policy)),
        workspace=c.nested(f"{path}.workspace", WorkspaceConfig, **_given(workspace)),
        extra=_given(extra),
        **_given(d),
    )


def _strategy(value: Any, path: str) -> StrategyConfig:
    """``{name: basic, <params>}`` (LPOT), or just the name."""
    if isinstance(value, str):
        return c.nested(path, StrategyConfig, name=value)
    params = c.mapping(value, path, "such as {name: basic}") or {}
    name = params.pop("name", None)
    return c.nested(path, StrategyConfig, params=params, **_given({"name": name}))


def _criterion(value: Any, path: str) -> AccuracyCriterion:
    """``{relative: 0.01}`` or ``{absolute: 0.01}`` (not both), optionally ``higher_is_better``."""
    d = _given(_section(value, path, ("relative", "absolute", "higher_is_better")))
    kinds = [k for k in ("relative", "absolute") if k in d]
    if len(kinds) > 1:
        raise InvalidField(
            path,
            f"give either relative or absolute, not both (relative: {d['relative']!r}, "
            f"absolute: {d['absolute']!r})",
        )
    kwargs = {"kind": kinds[0], "value": d[kinds[0]]} if kinds else {}
    if "higher_is_better" in d:
        kwargs["higher_is_better"] = d["higher_is_better"]
    return c.nested(path, AccuracyCriterion, **kwargs)
