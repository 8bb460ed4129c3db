"""``lpot tune`` flags: the common knobs of a config, so a first run needs no YAML.

Each flag overrides one key of the config (or of the defaults when no config is given); a bad value
is reported in flag terms (``--accuracy-loss: ...``), not as the YAML key it lands in.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from lpot.errors import ConfigError

# flag (argparse dest) -> the config key it sets, as a path
FLAGS: dict[str, tuple[str, ...]] = {
    "accuracy_loss": ("tuning", "accuracy_criterion", "relative"),
    "absolute_loss": ("tuning", "accuracy_criterion", "absolute"),
    "strategy": ("tuning", "strategy", "name"),
    "max_trials": ("tuning", "exit_policy", "max_trials"),
    "timeout": ("tuning", "exit_policy", "timeout"),
    "objective": ("tuning", "objective"),
    "framework": ("model", "framework"),
    "approach": ("quantization", "approach"),
    "workspace": ("tuning", "workspace", "path"),
}


def add_tune_flags(parser: argparse.ArgumentParser) -> None:
    flags = parser.add_argument_group("tuning knobs (override the config; defaults when there is none)")
    flags.add_argument("--accuracy-loss", help="at most this relative loss: 1%% or 0.01 (default 1%%)")
    flags.add_argument("--absolute-loss", type=float, help="at most this absolute loss, e.g. 0.005")
    flags.add_argument(
        "--strategy", help="basic (default), mse, sensitivity, random, exhaustive, bayesian, tpe"
    )
    flags.add_argument("--max-trials", type=int, help="stop after this many recipes (default 100)")
    flags.add_argument("--timeout", type=float, help="seconds; search for the best objective until then")
    flags.add_argument("--objective", help="performance (default), throughput, model_size, footprint")
    flags.add_argument("--framework", help="the backend or LPOT framework name (default: found by the model)")
    flags.add_argument(
        "--approach",
        choices=("post_training_static_quant", "post_training_dynamic_quant", "quant_aware_training"),
        help="default post_training_static_quant",
    )
    flags.add_argument(
        "--metric", help="metric of --data / --eval-data when the config names none (default topk)"
    )
    flags.add_argument("--output-name", dest="output_name", help="the model output the metric scores")


def apply_flags(data: Mapping[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The config layout ``data`` with the given flags written in."""
    out = _copy(data)
    if args.accuracy_loss is not None and args.absolute_loss is not None:
        raise ConfigError("give --accuracy-loss or --absolute-loss, not both")
    for dest, path in FLAGS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest in ("accuracy_loss", "absolute_loss"):
            _set(out, ("tuning", "accuracy_criterion"), {})  # one kind replaces the other
        _set(out, path, value)
    if getattr(args, "output_name", None):
        _set(out, ("model", "outputs"), [args.output_name])
    evaluation = out.get("evaluation") or {}
    accuracy = evaluation.get("accuracy") or {}
    if (args.data or args.eval_data or args.metric) and not accuracy.get("metric"):
        _set(
            out,
            ("evaluation", "accuracy", "metric"),
            {args.metric or "topk": {}} if args.metric else {"topk": 1},
        )
    return out


def flag_of(message: str) -> str:
    """A config error about a key a flag set, said with the flag's name."""
    for dest, path in FLAGS.items():
        key = ".".join(path)
        if key in message:
            return message.replace(key, "--" + dest.replace("_", "-"), 1)
    return message


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        child = data.get(key)
        if not isinstance(child, dict):
            child = data[key] = {}
        data = child
    data[path[-1]] = value
