"""The ``pruning`` and ``distillation`` config sections, validated with precise messages.

Two layouts are accepted for each. The short one of lpot::

    pruning: {method: magnitude, target_sparsity: 0.8, start_epoch: 0, end_epoch: 4,
              update_frequency: 1, schedule: gradual, pattern: "2:4", names: [fc1], exclude: []}
    distillation: {temperature: 2.0, loss_types: [CE, KL], loss_weights: [0.5, 0.5]}

and LPOT 1.x's: ``pruning.train`` (its epochs; the rest is the user's loop) and ``pruning.approach.weight_compression`` (or ``weight_magnitude``) with ``initial_sparsity``,
``target_sparsity``, ``start_epoch``, ``end_epoch`` and a list of ``pruners`` (``prune_type``:
basic_magnitude / gradient_sensitivity / pattern_lock, ``names``, their own epochs and targets),
and ``distillation.train.criterion.KnowledgeDistillationLoss``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lpot.compression.patterns import Pattern, parse_pattern
from lpot.compression.schedules import SCHEDULES, sparsity_at
from lpot.config import _checks as c
from lpot.config._checks import InvalidField
from lpot.errors import ConfigError

METHODS = ("magnitude", "gradient_sensitivity", "pattern_lock")
LPOT_PRUNE_TYPES = {
    "basic_magnitude": "magnitude",
    "magnitude": "magnitude",
    "gradient_sensitivity": "gradient_sensitivity",
    "pattern_lock": "pattern_lock",
}
PRUNER_KEYS = (
    "method",
    "prune_type",
    "target_sparsity",
    "initial_sparsity",
    "start_epoch",
    "end_epoch",
    "update_frequency",
    "schedule",
    "pattern",
    "names",
    "exclude",
)
KD_LOSSES = ("CE", "KL", "MSE")
LPOT_APPROACHES = ("weight_compression", "weight_magnitude")


@dataclass(frozen=True, kw_only=True)
class PrunerSpec:
    """One pruner: which layers (``names`` / ``exclude``: exact names or ``fnmatch`` globs of the
    layer or, as LPOT 1.x wrote them, of its weight ``<layer>.weight``; empty names = every prunable
    layer), how (method, pattern) and when (schedule over epochs)."""

    method: str = "magnitude"
    target_sparsity: float = 0.5
    initial_sparsity: float = 0.0
    start_epoch: int = 0
    end_epoch: int = 0
    update_frequency: int = 1
    schedule: str = "gradual"
    pattern: Pattern = field(default_factory=lambda: Pattern("unstructured"))
    names: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def selects(self, layer: str) -> bool:
        from fnmatch import fnmatchcase

        def matches(pattern: str) -> bool:  # LPOT 1.x names the weight: "layer1.0.conv1.weight"
            return fnmatchcase(layer, pattern) or fnmatchcase(f"{layer}.weight", pattern)

        chosen = not self.names or any(matches(p) for p in self.names)
        return chosen and not any(matches(p) for p in self.exclude)

    def target_at(self, epoch: int) -> float | None:
        """The sparsity to prune to at the start of ``epoch``, or None when this pruner does not
        update then (pattern lock, before ``start_epoch``, between two update points): the one
        schedule reading every framework's pruning callback shares."""
        if self.method == "pattern_lock" or epoch < self.start_epoch:
            return None
        if epoch < self.end_epoch and (epoch - self.start_epoch) % self.update_frequency:
            return None
        return sparsity_at(
            epoch,
            target=self.target_sparsity,
            initial=self.initial_sparsity,
            start_epoch=self.start_epoch,
            end_epoch=self.end_epoch,
            schedule=self.schedule,
            update_frequency=self.update_frequency,
        )


@dataclass(frozen=True, kw_only=True)
class PruningConfig:
    pruners: tuple[PrunerSpec, ...]


@dataclass(frozen=True, kw_only=True)
class DistillationConfig:
    """Knowledge distillation: ``loss_weights`` pair with ``loss_types`` (hard-label CE, then the
    teacher term KL on temperature-softened logits, or MSE on logits); ``layers`` maps student
    layer names to teacher layer names for an intermediate-feature MSE term (weight ``layer_weight``)."""

    temperature: float = 2.0
    loss_types: tuple[str, ...] = ("CE", "KL")
    loss_weights: tuple[float, ...] = (0.5, 0.5)
    layers: Mapping[str, str] = field(default_factory=dict)
    layer_weight: float = 0.0
    teacher: str | None = None


def _fraction(value: Any, key: str) -> float:
    v = c.number(value, key, what="a fraction between 0 and 1")
    if not 0.0 <= v < 1.0:
        raise InvalidField(key, f"expected a fraction in [0, 1), got {value!r}")
    return v


def _pruner(data: Mapping[str, Any], defaults: Mapping[str, Any], key: str) -> PrunerSpec:
    c.check_keys(data, PRUNER_KEYS, prefix=f"{key}." if key else "")
    merged = {**defaults, **data}

    def at(name: str) -> str:
        return f"{key}.{name}" if key else name

    if "prune_type" in merged and "method" not in data:
        ptype = merged["prune_type"]
        if ptype not in LPOT_PRUNE_TYPES:
            c.choice(ptype, LPOT_PRUNE_TYPES, at("prune_type"))
        merged["method"] = LPOT_PRUNE_TYPES[ptype]
    method = c.choice(merged.get("method", "magnitude"), METHODS, at("method"))
    pattern = parse_pattern(merged.get("pattern", "unstructured"), at("pattern"))
    target = _fraction(merged.get("target_sparsity", 0.5), at("target_sparsity"))
    if pattern.fixed_sparsity is not None and "target_sparsity" in merged:
        if abs(target - pattern.fixed_sparsity) > 1e-9:
            raise InvalidField(
                at("target_sparsity"),
                f"pattern {pattern} always gives sparsity {pattern.fixed_sparsity:g}, got target {target:g}; "
                "drop target_sparsity or make them agree",
            )
    if pattern.fixed_sparsity is not None:
        target = pattern.fixed_sparsity
    initial = _fraction(merged.get("initial_sparsity", 0.0), at("initial_sparsity"))
    start = c.integer(merged.get("start_epoch", 0), at("start_epoch"), minimum=0)
    end = c.integer(merged.get("end_epoch", start), at("end_epoch"), minimum=0)
    if end < start:
        raise InvalidField(at("end_epoch"), f"expected end_epoch >= start_epoch ({start}), got {end}")
    if initial > target:
        raise InvalidField(
            at("initial_sparsity"), f"expected at most target_sparsity ({target:g}), got {initial:g}"
        )
    return PrunerSpec(
        method=method,
        target_sparsity=target,
        initial_sparsity=initial,
        start_epoch=start,
        end_epoch=end,
        update_frequency=c.integer(merged.get("update_frequency", 1), at("update_frequency")),
        schedule=c.choice(merged.get("schedule", "gradual"), SCHEDULES, at("schedule")),
        pattern=pattern,
        names=c.texts(merged["names"], at("names")) if merged.get("names") else (),
        exclude=c.texts(merged["exclude"], at("exclude")) if merged.get("exclude") else (),
    )


def parse_pruning(data: Any) -> PruningConfig:
    """The ``pruning`` section (keys in errors are relative to it)."""
    data = c.mapping(data, "", "of pruning settings") or {}
    if "approach" in data or "train" in data:  # LPOT 1.x: train (epochs) + approach.<kind>
        c.check_keys(data, ("approach", "train"))
        train = c.mapping(data.get("train"), "train") or {}  # optimizer etc. belong to the user's loop
        epochs = {k: train[k] for k in ("start_epoch", "end_epoch") if k in train}
        approach = c.mapping(data.get("approach"), "approach") or {}
        c.check_keys(approach, LPOT_APPROACHES, prefix="approach.")
        kind = next((k for k in LPOT_APPROACHES if k in approach), "weight_compression")
        base = f"approach.{kind}"
        wc = c.mapping(approach.get(kind), base) or {}
        c.check_keys(wc, (*PRUNER_KEYS, "pruners"), prefix=f"{base}.")
        defaults = {**epochs, **{k: v for k, v in wc.items() if k != "pruners"}}
        if kind == "weight_magnitude":
            defaults.setdefault("method", "magnitude")
        raw = wc.get("pruners") or [{}]
        if not isinstance(raw, list):
            raise InvalidField(f"{base}.pruners", f"expected a list of pruners, got {c.show(raw)}")
        pruners = []
        for i, p in enumerate(raw):
            p = c.mapping(p, f"{base}.pruners[{i}]") or {}
            pruners.append(_pruner(p, defaults, f"{base}.pruners[{i}]"))
        return PruningConfig(pruners=tuple(pruners))
    if "pruners" in data:
        raw = data["pruners"]
        if not isinstance(raw, list) or not raw:
            raise InvalidField("pruners", f"expected a non-empty list of pruners, got {c.show(raw)}")
        defaults = {k: v for k, v in data.items() if k != "pruners"}
        c.check_keys(defaults, PRUNER_KEYS)
        return PruningConfig(
            pruners=tuple(
                _pruner(c.mapping(p, f"pruners[{i}]") or {}, defaults, f"pruners[{i}]")
                for i, p in enumerate(raw)
            )
        )
    return PruningConfig(pruners=(_pruner(data, {}, ""),))


def parse_distillation(data: Any) -> DistillationConfig:
    """The ``distillation`` section (keys in errors are relative to it)."""
    data = c.mapping(data, "", "of distillation settings") or {}
    prefix = ""
    if "train" in data:  # LPOT 1.x: train.criterion.KnowledgeDistillationLoss (optimizer etc. are the user's)
        train = c.mapping(data["train"], "train") or {}
        criterion = c.mapping(train.get("criterion"), "train.criterion") or {}
        c.check_keys(criterion, ("KnowledgeDistillationLoss",), prefix="train.criterion.")
        prefix = "train.criterion.KnowledgeDistillationLoss."
        data = {
            **(c.mapping(criterion.get("KnowledgeDistillationLoss"), prefix[:-1]) or {}),
            **({"teacher": data["teacher"]} if "teacher" in data else {}),
        }
    c.check_keys(
        data,
        ("temperature", "loss_types", "loss_weights", "layers", "layer_weight", "teacher"),
        prefix=prefix,
    )
    temperature = c.number(data.get("temperature", 2.0), f"{prefix}temperature", what="a positive number")
    if temperature <= 0:
        raise InvalidField(f"{prefix}temperature", f"expected a positive number, got {temperature!r}")
    types = tuple(t.upper() for t in c.texts(data.get("loss_types", ["CE", "KL"]), f"{prefix}loss_types"))
    for t in types:
        c.choice(t, KD_LOSSES, f"{prefix}loss_types")
    weights_raw = data.get("loss_weights", [0.5, 0.5])
    if not isinstance(weights_raw, (list, tuple)) or len(weights_raw) != len(types):
        raise InvalidField(
            f"{prefix}loss_weights",
            f"expected {len(types)} weights (one per loss type {list(types)}), got {weights_raw!r}",
        )
    weights = tuple(
        c.number(w, f"{prefix}loss_weights", minimum=0.0, what="a non-negative number") for w in weights_raw
    )
    layers = c.mapping(data.get("layers"), f"{prefix}layers", "of student layer: teacher layer") or {}
    return DistillationConfig(
        temperature=temperature,
        loss_types=types,
        loss_weights=weights,
        layers={str(k): c.text(v, f"{prefix}layers.{k}") for k, v in layers.items()},
        layer_weight=c.number(
            data.get("layer_weight", 1.0 if layers else 0.0), f"{prefix}layer_weight", minimum=0.0
        ),
        teacher=c.text(data["teacher"], "teacher") if data.get("teacher") is not None else None,
    )


def pruning_config(config: Any) -> PruningConfig:
    """A PruningConfig from itself, the ``pruning`` mapping of a config file, or an ``lpot.Config``
    (what the framework packages' pruners accept)."""
    if isinstance(config, PruningConfig):
        return config
    sections = getattr(config, "extra_sections", None)
    if sections is not None:
        if "pruning" not in sections:
            raise ConfigError("the config has no 'pruning' section")
        config = sections["pruning"]
    if not isinstance(config, Mapping):
        raise ConfigError(f"expected a pruning section (a mapping), got {type(config).__name__}")
    try:
        return parse_pruning(config)
    except InvalidField as exc:
        raise ConfigError(str(exc.under("pruning"))) from None


def distillation_config(config: Any) -> DistillationConfig:
    """A DistillationConfig from itself, ``None`` (defaults), the ``distillation`` mapping of a config
    file, or an ``lpot.Config``."""
    if config is None:
        return DistillationConfig()
    if isinstance(config, DistillationConfig):
        return config
    sections = getattr(config, "extra_sections", None)
    if sections is not None:
        config = sections.get("distillation", {})
    if not isinstance(config, Mapping):
        raise ConfigError(f"expected a distillation section (a mapping), got {type(config).__name__}")
    try:
        return parse_distillation(config)
    except InvalidField as exc:
        raise ConfigError(str(exc.under("distillation"))) from None
