"""Load a config from YAML (LPOT 1.x layout), a dict, or a Config, with precise errors.

Every error names the file, the dotted key path, the value found and what was expected; unknown
keys get a "did you mean". Dataset, transform and dataloader sub-trees are kept raw (they are
validated when data is built), so a config whose dataset root is absent here still loads.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from lpot.config import schema as s
from lpot.errors import ConfigError
from lpot.recipe import ALGORITHMS, DTYPES, GRANULARITIES, SCHEMES

# Sections of later LPOT releases that lpot keeps as raw mappings for the features that use them.
RAW_SECTIONS = ("pruning", "distillation", "graph_optimization", "mixed_precision", "benchmark", "nas")
TENSOR_VOCAB: dict[str, tuple[str, ...]] = {
    "dtype": DTYPES,
    "scheme": SCHEMES,
    "granularity": GRANULARITIES,
    "algorithm": ALGORITHMS,
}
ALIASES = {"algorithm": {"entropy": "kl"}, "dtype": {"float32": "fp32", "bfloat16": "bf16"}}


class _Ctx:
    """Where we are: the source file (for messages) and helpers that raise with the key path."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    def error(self, path: str, message: str) -> ConfigError:
        prefix = f"{self.source}: " if self.source else ""
        return ConfigError(f"{prefix}{path}: {message}" if path else f"{prefix}{message}")

    def mapping(self, value: Any, path: str) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a mapping of keys, got {_show(value)}")
        return value

    def keys(self, data: Mapping[str, Any], path: str, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        for key in data:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {', '.join(allowed)}"
                prefix = f"{self.source}: " if self.source else ""
                raise ConfigError(f"{prefix}unknown key {where!r}{hint}")

    def integer(self, value: Any, path: str, *, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise self.error(path, f"expected {what}, got {_show(value)}")
        return value

    def number(self, value: Any, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(path, f"expected a number, got {_show(value)}")
        return float(value)

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, got {_show(value)}")
        return value

    def string(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(path, f"expected a non-empty string, got {_show(value)}")
        return value

    def strings(self, value: Any, path: str) -> tuple[str, ...]:
        """A list, or LPOT's flow string ``"a, b"``, or one scalar."""
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise self.error(path, f"expected a string or a list of strings, got {_show(value)}")


def _show(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def load_config(source: str | os.PathLike[str] | Mapping[str, Any] | s.Config | None = None) -> s.Config:
    """A validated :class:`Config` from a YAML path, a dict, a Config, or defaults for None."""
    if source is None:
        return s.Config()
    if isinstance(source, s.Config):
        return source
    if isinstance(source, Mapping):
        return parse_config(source, None)
    if isinstance(source, (str, os.PathLike)):
        return parse_config(_read_yaml(Path(source)), str(source))
    raise ConfigError(f"config must be a YAML path, a dict or lpot.Config, got {type(source).__name__}")


def _read_yaml(path: Path) -> Mapping[str, Any]:
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def parse_config(data: Mapping[str, Any], source: str | None) -> s.Config:
    ctx = _Ctx(source)
    data = ctx.mapping(data, "")
    top = ("version", "model", "device", "quantization", "evaluation", "tuning", "tensorboard", *RAW_SECTIONS)
    ctx.keys(data, "", top)
    try:
        return s.Config(
            version=None if data.get("version") is None else str(data["version"]),
            model=_model(ctx, ctx.mapping(data.get("model"), "model")),
            device=ctx.string(data.get("device", "cpu"), "device"),
            quantization=_quantization(ctx, ctx.mapping(data.get("quantization"), "quantization")),
            evaluation=_evaluation(ctx, ctx.mapping(data.get("evaluation"), "evaluation")),
            tuning=_tuning(ctx, ctx.mapping(data.get("tuning"), "tuning")),
            tensorboard=ctx.boolean(data.get("tensorboard", False), "tensorboard"),
            extra_sections={k: data[k] for k in RAW_SECTIONS if k in data},
            source=source,
        )
    except ConfigError as exc:
        if source and not str(exc).startswith(source):
            raise ConfigError(f"{source}: {exc}") from None
        raise


def _model(ctx: _Ctx, d: Mapping[str, Any]) -> s.ModelConfig:
    ctx.keys(d, "model", ("name", "framework", "inputs", "outputs"))
    return s.ModelConfig(
        name=ctx.string(d.get("name", "model"), "model.name"),
        framework=None if d.get("framework") is None else ctx.string(d["framework"], "model.framework"),
        inputs=ctx.strings(d.get("inputs", ()), "model.inputs"),
        outputs=ctx.strings(d.get("outputs", ()), "model.outputs"),
    )


def _sampling_sizes(ctx: _Ctx, value: Any, path: str) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            return tuple(ctx.integer(int(v), path) for v in value.split(",") if v.strip())
        except ValueError:
            raise ctx.error(
                path, f"expected an integer or a list like '50, 100', got {_show(value)}"
            ) from None
    if isinstance(value, (list, tuple)):
        return tuple(ctx.integer(v, path) for v in value)
    return (ctx.integer(value, path),)


def _quantization(ctx: _Ctx, d: Mapping[str, Any]) -> s.QuantizationConfig:
    ctx.keys(
        d, "quantization", ("approach", "calibration", "model_wise", "op_wise", "recipes", "train", "advance")
    )
    cal = ctx.mapping(d.get("calibration"), "quantization.calibration")
    ctx.keys(cal, "quantization.calibration", ("sampling_size", "dataloader"))
    op_wise = ctx.mapping(d.get("op_wise"), "quantization.op_wise")
    return s.QuantizationConfig(
        approach=ctx.string(d.get("approach", "post_training_static_quant"), "quantization.approach"),
        calibration=s.CalibrationConfig(
            sampling_size=_sampling_sizes(
                ctx, cal.get("sampling_size", 100), "quantization.calibration.sampling_size"
            ),
            dataloader=_raw(ctx, cal.get("dataloader"), "quantization.calibration.dataloader"),
        ),
        model_wise=_rules(ctx, d.get("model_wise"), "quantization.model_wise"),
        op_wise={str(k): _rules(ctx, v, f"quantization.op_wise.{k}") for k, v in op_wise.items()},
        recipes=dict(ctx.mapping(d.get("recipes"), "quantization.recipes")),
    )


def _rules(ctx: _Ctx, value: Any, path: str) -> s.TensorRules:
    d = ctx.mapping(value, path)
    ctx.keys(d, path, ("activation", "weight"))
    parts = {}
    for tensor in ("activation", "weight"):
        t = ctx.mapping(d.get(tensor), f"{path}.{tensor}")
        ctx.keys(t, f"{path}.{tensor}", TENSOR_VOCAB)
        parts[tensor] = {attr: _values(ctx, attr, v, f"{path}.{tensor}.{attr}") for attr, v in t.items()}
    return s.TensorRules(**parts)


def _values(ctx: _Ctx, attr: str, value: Any, path: str) -> tuple[str, ...]:
    values = ctx.strings(value, path)
    out = []
    for v in values:
        v = ALIASES.get(attr, {}).get(v, v)
        if v not in TENSOR_VOCAB[attr]:
            raise ctx.error(path, f"expected one of {', '.join(TENSOR_VOCAB[attr])}, got {v!r}")
        out.append(v)
    return tuple(out)


def _raw(ctx: _Ctx, value: Any, path: str) -> Mapping[str, Any] | None:
    return None if value is None else dict(ctx.mapping(value, path))


def _evaluation(ctx: _Ctx, d: Mapping[str, Any]) -> s.EvaluationConfig:
    ctx.keys(d, "evaluation", ("accuracy", "performance"))
    accuracy = performance = None
    if "accuracy" in d:
        a = ctx.mapping(d["accuracy"], "evaluation.accuracy")
        ctx.keys(a, "evaluation.accuracy", ("metric", "dataloader", "postprocess", "configs"))
        accuracy = s.AccuracyConfig(
            metric=_metric(ctx, a.get("metric"), "evaluation.accuracy.metric"),
            dataloader=_raw(ctx, a.get("dataloader"), "evaluation.accuracy.dataloader"),
            postprocess=_raw(ctx, a.get("postprocess"), "evaluation.accuracy.postprocess"),
        )
    if "performance" in d:
        p = ctx.mapping(d["performance"], "evaluation.performance")
        ctx.keys(p, "evaluation.performance", ("warmup", "iteration", "configs", "dataloader", "postprocess"))
        c = ctx.mapping(p.get("configs"), "evaluation.performance.configs")
        thread_keys = ("inter_num_of_threads", "intra_num_of_threads", "kmp_blocktime")
        ctx.keys(c, "evaluation.performance.configs", ("cores_per_instance", "num_of_instance", *thread_keys))
        cores = c.get("cores_per_instance")
        performance = s.PerformanceConfig(
            warmup=ctx.integer(p.get("warmup", 5), "evaluation.performance.warmup", minimum=0),
            iteration=_iteration(ctx, p.get("iteration", 50)),
            cores_per_instance=None
            if cores is None
            else ctx.integer(cores, "evaluation.performance.configs.cores_per_instance"),
            num_of_instance=ctx.integer(
                c.get("num_of_instance", 1), "evaluation.performance.configs.num_of_instance"
            ),
            dataloader=_raw(ctx, p.get("dataloader"), "evaluation.performance.dataloader"),
            extra={k: c[k] for k in thread_keys if k in c},
        )
    return s.EvaluationConfig(accuracy=accuracy, performance=performance)


def _iteration(ctx: _Ctx, value: Any) -> int:
    # LPOT used -1 for "the whole dataloader"
    if value == -1:
        return -1
    return ctx.integer(value, "evaluation.performance.iteration")


def _metric(ctx: _Ctx, value: Any, path: str) -> s.MetricConfig | None:
    if value is None:
        return None
    if isinstance(value, str):
        return s.MetricConfig(name=value.lower())
    d = ctx.mapping(value, path)
    if len(d) != 1:
        raise ctx.error(path, f"expected exactly one metric such as {{topk: 1}}, got {sorted(d)}")
    name, params = next(iter(d.items()))
    name = str(name).lower()
    if params is None:
        params = {}
    elif not isinstance(params, Mapping):
        params = {"k": params} if name == "topk" else {"value": params}
    return s.MetricConfig(name=name, params=dict(params))


def _tuning(ctx: _Ctx, d: Mapping[str, Any]) -> s.TuningConfig:
    known = (
        "strategy",
        "accuracy_criterion",
        "objective",
        "exit_policy",
        "random_seed",
        "workspace",
        "tensorboard",
        "diagnosis",
    )
    ctx.keys(d, "tuning", known)
    return s.TuningConfig(
        strategy=_strategy(ctx, d.get("strategy")),
        accuracy_criterion=_criterion(
            ctx, ctx.mapping(d.get("accuracy_criterion"), "tuning.accuracy_criterion")
        ),
        objective=ctx.string(d.get("objective", "performance"), "tuning.objective"),
        exit_policy=_exit_policy(ctx, ctx.mapping(d.get("exit_policy"), "tuning.exit_policy")),
        random_seed=ctx.integer(d.get("random_seed", 1978), "tuning.random_seed", minimum=0),
        workspace=_workspace(ctx, ctx.mapping(d.get("workspace"), "tuning.workspace")),
        tensorboard=ctx.boolean(d.get("tensorboard", False), "tuning.tensorboard"),
    )


def _strategy(ctx: _Ctx, value: Any) -> s.StrategyConfig:
    if isinstance(value, str):
        return s.StrategyConfig(name=value)
    d = ctx.mapping(value, "tuning.strategy")
    params = {k: v for k, v in d.items() if k != "name"}
    return s.StrategyConfig(name=ctx.string(d.get("name", "basic"), "tuning.strategy.name"), params=params)


def _criterion(ctx: _Ctx, d: Mapping[str, Any]) -> s.AccuracyCriterion:
    path = "tuning.accuracy_criterion"
    ctx.keys(d, path, ("relative", "absolute", "higher_is_better"))
    kinds = [k for k in ("relative", "absolute") if k in d]
    if len(kinds) > 1:
        raise ctx.error(path, "give either relative or absolute, not both")
    kind = kinds[0] if kinds else "relative"
    hib = d.get("higher_is_better")
    return s.AccuracyCriterion(
        kind=kind,
        value=ctx.number(d.get(kind, 0.01), f"{path}.{kind}"),
        higher_is_better=None if hib is None else ctx.boolean(hib, f"{path}.higher_is_better"),
    )


def _exit_policy(ctx: _Ctx, d: Mapping[str, Any]) -> s.ExitPolicy:
    ctx.keys(d, "tuning.exit_policy", ("timeout", "max_trials", "performance_only"))
    timeout = ctx.number(d.get("timeout", 0), "tuning.exit_policy.timeout")
    if timeout < 0:
        raise ctx.error("tuning.exit_policy.timeout", f"expected seconds >= 0, got {timeout!r}")
    return s.ExitPolicy(
        timeout=timeout, max_trials=ctx.integer(d.get("max_trials", 100), "tuning.exit_policy.max_trials")
    )


def _workspace(ctx: _Ctx, d: Mapping[str, Any]) -> s.WorkspaceConfig:
    ctx.keys(d, "tuning.workspace", ("path", "resume"))
    resume = d.get("resume")
    return s.WorkspaceConfig(
        path=ctx.string(str(d.get("path", "./lpot_workspace")), "tuning.workspace.path"),
        resume=None if resume is None else ctx.string(str(resume), "tuning.workspace.resume"),
    )
