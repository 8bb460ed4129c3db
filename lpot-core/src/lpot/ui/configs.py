"""The YAML config of a run started from the page: built from the form, or edited by hand, always
checked by lpot's own loader, never given more than ``lpot tune`` accepts from a file.

The page may not name Python: user metrics by import path (``"pkg.module:Name"``) are refused
here (registered plugins, found through entry points, are fine), and the run's workspace is always
its own folder whatever ``tuning.workspace.path`` says.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lpot.config import Config, load_config
from lpot.config.loader import read_yaml
from lpot.errors import ConfigError

APPROACHES = ("post_training_static_quant", "post_training_dynamic_quant")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What the new-run form offers; anything else is a matter of editing the YAML."""

    strategy: str = "basic"
    approach: str = APPROACHES[0]
    metric: str = "topk"
    criterion: str = "relative"
    tolerance: float = 0.01
    objective: str = "performance"
    max_trials: int = 50
    timeout: float = 0.0
    seed: int = 9527

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> RunOptions:
        fields = cls.__dataclass_fields__
        unknown = sorted(set(form) - set(fields))
        if unknown:
            raise ConfigError(f"unknown run option(s) {', '.join(unknown)}; expected {', '.join(fields)}")
        values: dict[str, Any] = {}
        for name, value in form.items():
            kind = type(fields[name].default)
            try:
                values[name] = kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"run option {name}: expected a {kind.__name__}, got {value!r}") from None
        return cls(**values)

    def to_config(self) -> dict[str, Any]:
        if self.approach not in APPROACHES:
            raise ConfigError(f"approach: expected one of {', '.join(APPROACHES)}, got {self.approach!r}")
        return {
            "quantization": {"approach": self.approach},
            "evaluation": {"accuracy": {"metric": {self.metric: {}}}},
            "tuning": {
                "strategy": {"name": self.strategy},
                "accuracy_criterion": {self.criterion: self.tolerance},
                "objective": self.objective,
                "exit_policy": {"timeout": self.timeout, "max_trials": self.max_trials},
                "random_seed": self.seed,
            },
        }


def to_yaml(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False)


def check_yaml(text: str) -> Config:
    """The config ``text`` describes, validated as ``lpot tune`` would validate ``config.yaml``."""
    with tempfile.TemporaryDirectory(prefix="lpot-ui-") as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            config = load_config(path)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(path), "config.yaml")) from None
    refuse_code(config)
    return config


def refuse_code(config: Config) -> None:
    """Refuse what would make ``lpot tune`` import a module the page named."""
    accuracy = config.evaluation.accuracy
    metric = accuracy.metric if accuracy else None
    if metric is not None and ":" in metric.name:
        raise ConfigError(
            f"evaluation.accuracy.metric: {metric.name!r} is an import path; lpot ui starts no user code. "
            "Use a metric lpot or an installed plugin provides, or run lpot tune from a terminal"
        )


def with_workspace(text: str, folder: Path) -> str:
    """``text`` with ``tuning.workspace.path`` set to the run's own folder (checked first)."""
    check_yaml(text)
    data = yaml.safe_load(text) or {}
    tuning = data.setdefault("tuning", {}) or {}
    data["tuning"] = tuning
    tuning["workspace"] = {**(tuning.get("workspace") or {}), "path": str(folder)}
    return to_yaml(data)


def parent_config(folder: Path, meta: Mapping[str, Any], config_file: str | None) -> dict[str, Any]:
    """The config a run was tuned with (its ``config.yaml`` if the UI wrote one, else the history's
    copy), without its workspace: a new run gets its own."""
    if config_file and (folder / config_file).is_file():
        config = read_yaml(str(folder / config_file))
    else:
        stored = meta.get("config")
        if not isinstance(stored, Mapping):
            raise ConfigError(f"{folder.name}: the history holds no config to start a new run from")
        config = copy.deepcopy(dict(stored))
    if isinstance(config.get("tuning"), dict):
        config["tuning"].pop("workspace", None)
    return config


def keep_in_fp32(config: Mapping[str, Any], ops: Iterable[str]) -> dict[str, Any]:
    """``config`` with ``quantization.op_wise: {op: {activation: {dtype: [fp32]}}}`` for each op."""
    names = sorted(set(ops))
    if not names:
        raise ConfigError("choose at least one op to keep in FP32")
    out = copy.deepcopy(dict(config))
    quantization = dict(out.get("quantization") or {})
    op_wise = dict(quantization.get("op_wise") or {})
    for name in names:
        op_wise[name] = {"activation": {"dtype": ["fp32"]}}
    quantization["op_wise"] = op_wise
    out["quantization"] = quantization
    return out
