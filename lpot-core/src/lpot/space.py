"""The tuning space: a backend's capability narrowed by the user's model-wise and op-wise rules.

Strategies only see this (op keys, choices per op, model-wise options), never a framework.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lpot.errors import ConfigError
from lpot.recipe import BF16, FP32, FP32_OP, Capability, OpCapability, OpConfig, OpKey, Recipe, TensorChoices

# The dimensions a model-wise search varies, in the order the basic strategy tries them.
DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("activation", "algorithm"),
    ("activation", "scheme"),
    ("weight", "granularity"),
    ("weight", "scheme"),
    ("activation", "dtype"),
    ("weight", "dtype"),
)


@dataclass(frozen=True, kw_only=True)
class TuningSpace:
    """Every op in graph order with its allowed quantized configs (defaults first).

    ``choices[op]`` empty means the user pinned the op to FP32. ``fixed_fp32`` ops can never be
    quantized; ``options`` are the backend's model-wise knobs, default first.
    """

    approach: str
    ops: tuple[OpKey, ...]
    choices: Mapping[OpKey, tuple[OpConfig, ...]]
    options: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    sampling_sizes: tuple[int, ...] = (100,)
    last_resort: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)  # see Capability
    tensors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # see Capability
    calibrated_options: frozenset[str] = frozenset()  # see Capability

    @property
    def tunable_ops(self) -> tuple[OpKey, ...]:
        return tuple(op for op in self.ops if self.choices[op])

    def default_recipe(self) -> Recipe:
        """Every tunable op at its default INT8 config, default options, first sampling size."""
        return Recipe(
            approach=self.approach,
            ops={op: (self.choices[op][0] if self.choices[op] else FP32_OP) for op in self.ops},
            calib_sampling_size=self.sampling_sizes[0],
            options={k: v[0] for k, v in self.options.items()},
        )

    def values(self, tensor: str, attr: str) -> list[Any]:
        """All values a dimension takes over the ops, in first-seen order (default first)."""
        seen: list[Any] = []
        for op in self.tunable_ops:
            for cfg in self.choices[op]:
                t = getattr(cfg, tensor)
                value = getattr(t, attr) if t is not None else None
                if value is not None and value not in seen:
                    seen.append(value)
        return seen

    def model_wise(self, base: Recipe, tensor: str, attr: str, value: Any) -> Recipe:
        """``base`` with ``tensor.attr = value`` on every op that allows it (others unchanged)."""
        changes = {}
        for op in self.tunable_ops:
            current = base.op(op)
            if not current.is_quantized:
                continue
            wanted = _with(current, tensor, attr, value)
            if wanted is not None and wanted in self.choices[op]:
                changes[op] = wanted
        return base.with_ops(changes)

    def fallback_config(self, op: OpKey) -> OpConfig:
        """What ``op`` falls back to: BF16 where the backend offers it (it only does where the CPU
        runs BF16 natively, faster than FP32 and nearly as accurate), otherwise FP32."""
        for cfg in self.choices.get(op, ()):
            if cfg.activation.dtype == BF16:
                return cfg
        return FP32_OP

    def fallback(self, recipe: Recipe, ops: Sequence[OpKey]) -> Recipe:
        """``recipe`` with ``ops`` out of INT8, each at its :meth:`fallback_config`."""
        return recipe.with_ops({op: self.fallback_config(op) for op in ops})

    def size(self) -> int:
        """Number of distinct recipes (for exhaustive search and progress bars)."""
        total = 1
        for op in self.ops:
            total *= len(self.choices[op]) + 1
        for values in self.options.values():
            total *= len(values)
        return total * len(self.sampling_sizes)


def _with(cfg: OpConfig, tensor: str, attr: str, value: Any) -> OpConfig | None:
    t = getattr(cfg, tensor)
    if t is None:
        return None
    return replace(cfg, **{tensor: replace(t, **{attr: value})})


def build_space(
    capability: Capability,
    *,
    approach: str,
    model_wise: Any = None,
    op_wise: Mapping[str, Any] | None = None,
    sampling_sizes: Sequence[int] = (100,),
    option_overrides: Mapping[str, Sequence[Any]] | None = None,
) -> TuningSpace:
    """Intersect the capability with the user's rules (``TensorRules``-like objects).

    A rule on a setting the backend takes per op narrows each op's choices; on a setting it takes
    for the whole model (an option named ``tensor.attr``) it narrows that option: in ``model_wise``
    only, since one op cannot differ.
    """
    if approach not in capability.approaches:
        raise ConfigError(
            f"quantization.approach: {approach!r} is not supported by this backend for this model; "
            f"supported: {', '.join(capability.approaches)}"
        )
    op_wise = dict(op_wise or {})
    _check_op_names(op_wise, {op.name for op in capability.opwise})
    options = {k: tuple(v) for k, v in capability.options.items()}
    options = _restrict_options(options, model_wise, "quantization.model_wise")
    choices: dict[OpKey, tuple[OpConfig, ...]] = {}
    for op, cap in capability.opwise.items():
        cap = _restrict(cap, model_wise, options, where="quantization.model_wise")
        rule = op_wise.get(op.name)
        if rule is not None:
            _check_op_rule(rule, options, f"quantization.op_wise.{op.name}")
            cap = _restrict(cap, rule, options, where=f"quantization.op_wise.{op.name}")
        choices[op] = tuple(cap.configs()) if _allows_quantized(cap) else ()
    for key, allowed in (option_overrides or {}).items():
        if key in options:
            kept = tuple(v for v in options[key] if v in allowed)
            if not kept:
                raise ConfigError(
                    f"backend option {key!r}: none of {list(allowed)} is supported ({list(options[key])})"
                )
            options[key] = kept
    return TuningSpace(
        approach=approach,
        ops=tuple(capability.opwise),
        choices=choices,
        options=options,
        sampling_sizes=tuple(sampling_sizes) or (100,),
        last_resort={
            k: tuple(v for v in values if v in options.get(k, ()))
            for k, values in capability.last_resort.items()
            if any(v in options.get(k, ()) for v in values)
        },
        tensors={k: tuple(v) for k, v in capability.tensors.items()},
        calibrated_options=frozenset(capability.calibrated_options) & set(options),
    )


def _check_op_names(op_wise: Mapping[str, Any], names: set[str]) -> None:
    for name in op_wise:
        if name not in names:
            close = difflib.get_close_matches(name, sorted(names), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; quantizable ops: {', '.join(sorted(names)[:12])}"
            )
            raise ConfigError(f"quantization.op_wise: no quantizable op named {name!r} in the model{hint}")


def _rule_items(rules: Any) -> list[tuple[str, str, tuple[Any, ...]]]:
    """``(tensor, attr, allowed values)`` of a rule object or mapping."""
    out = []
    for tensor in ("activation", "weight"):
        for attr, allowed in _rule_part(rules, tensor).items():
            out.append((tensor, attr, (allowed,) if isinstance(allowed, str) else tuple(allowed)))
    return out


def _restrict_options(
    options: dict[str, tuple[Any, ...]], rules: Any, where: str
) -> dict[str, tuple[Any, ...]]:
    """Model-wise rules narrow the backend's model-wise form of the same setting."""
    out = dict(options)
    for tensor, attr, allowed in _rule_items(rules) if rules is not None else []:
        key = f"{tensor}.{attr}"
        if key not in out:
            continue
        wanted = [v for v in allowed if v != FP32]
        if not wanted:
            continue
        kept = tuple(v for v in out[key] if v in wanted)
        if not kept:
            raise ConfigError(
                f"{where}.{key}: {list(allowed)} is not supported here; the backend offers {list(out[key])}"
            )
        out[key] = kept
    return out


def _check_op_rule(rules: Any, options: Mapping[str, tuple[Any, ...]], where: str) -> None:
    """An op-wise rule may not narrow a setting the backend only takes for the whole model."""
    for tensor, attr, allowed in _rule_items(rules):
        values = options.get(f"{tensor}.{attr}")
        if values is None or set(values) <= set(allowed) or (attr == "dtype" and set(allowed) == {FP32}):
            continue
        raise ConfigError(
            f"{where}.{tensor}.{attr}: this backend applies {tensor}.{attr} to the whole model "
            f"(it offers {list(values)}), so one op cannot differ; set it under quantization.model_wise"
        )


def _allows_quantized(cap: OpCapability) -> bool:
    return any(d != FP32 for d in cap.activation.dtype)


def _restrict(cap: OpCapability, rules: Any, options: Mapping[str, Any], *, where: str) -> OpCapability:
    if rules is None:
        return cap
    activation = _restrict_tensor(
        cap.activation, _per_op(rules, "activation", options), f"{where}.activation"
    )
    weight = cap.weight
    if weight is not None:
        weight = _restrict_tensor(weight, _per_op(rules, "weight", options), f"{where}.weight")
    return OpCapability(activation=activation, weight=weight)


def _per_op(rules: Any, tensor: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a rule that narrows per-op choices: settings the backend takes model-wise are
    left to :func:`_restrict_options`, except a dtype of fp32 alone (the op stays FP32)."""
    out = {}
    for attr, allowed in _rule_part(rules, tensor).items():
        allowed = (allowed,) if isinstance(allowed, str) else tuple(allowed)
        if f"{tensor}.{attr}" in options and not (attr == "dtype" and set(allowed) == {FP32}):
            continue
        out[attr] = allowed
    return out


def _rule_part(rules: Any, tensor: str) -> Mapping[str, Sequence[Any]]:
    part = rules.get(tensor) if isinstance(rules, Mapping) else getattr(rules, tensor, None)
    return part or {}


def _restrict_tensor(choices: TensorChoices, rule: Mapping[str, Sequence[Any]], where: str) -> TensorChoices:
    updates = {}
    for attr, allowed in rule.items():
        allowed = (allowed,) if isinstance(allowed, str) else tuple(allowed)
        offered: tuple[str, ...] = getattr(choices, attr, ())
        if attr == "dtype" and FP32 in allowed:
            offered = offered if FP32 in offered else (*offered, FP32)
        if not offered:
            continue  # the backend has no such knob for this op: nothing to restrict
        kept = tuple(v for v in offered if v in allowed)
        if not kept:
            raise ConfigError(
                f"{where}.{attr}: {list(allowed)} is not supported here; the backend offers {list(offered)}"
            )
        updates[attr] = kept
    return replace(choices, **updates)
