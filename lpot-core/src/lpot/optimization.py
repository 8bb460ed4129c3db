"""``lpot.optimize``: graph optimization as a product of its own (the original tool's "Graph
Optimization"), separate from quantization.

FP32: the backend's own graph rewrites baked into a saved model (ONNX Runtime: its session
optimizer plus the transformer fusions), with the FP32 speed-up measured against the input model
the same way tuning measures candidates (interleaved rounds, the spread reported).

BF16 (``precisions`` with ``bf16``): the backend converts where the CPU runs BF16 natively and
refuses with the reason elsewhere (emulated BF16 is slower than FP32). With an evaluation, the
conversion is accuracy-driven: while the BF16 model misses the accuracy criterion, the converted
ops go back to FP32 one at a time, in the order the backend lists them, until it holds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lpot.engine import Feature, Optimized
from lpot.errors import ConfigError, FeatureNotAvailableError

log = logging.getLogger("lpot")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")


@dataclass(frozen=True)
class OptimizeResult:
    """The optimized model and what was measured about it (``None`` where nothing was given to
    measure with: no data for latency, no evaluation for accuracy)."""

    model: Any
    precisions: tuple[str, ...]
    low_precision_ops: tuple[str, ...] = ()
    kept_fp32: tuple[str, ...] = ()
    baseline_accuracy: float | None = None
    accuracy: float | None = None
    fp32_ms: float | None = None
    optimized_ms: float | None = None
    batch_size: int | None = None
    spread: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def speedup(self) -> float | None:
        if not self.fp32_ms or not self.optimized_ms:
            return None
        return self.fp32_ms / self.optimized_ms

    def summary_dict(self) -> dict[str, Any]:
        return {
            "precisions": list(self.precisions),
            "low_precision_ops": list(self.low_precision_ops),
            "kept_fp32": list(self.kept_fp32),
            "baseline_accuracy": self.baseline_accuracy,
            "accuracy": self.accuracy,
            "latency_ms": {"input": self.fp32_ms, "optimized": self.optimized_ms},
            "batch_size": self.batch_size,
            "speedup": self.speedup,
            "ratio_spread": self.spread,
            "details": dict(self.details),
        }

    def summary(self) -> str:
        lines = [f"precisions: {', '.join(self.precisions)}"]
        if self.low_precision_ops or self.kept_fp32:
            lines.append(
                f"ops in low precision: {len(self.low_precision_ops)}, kept FP32: {len(self.kept_fp32)}"
            )
        if self.accuracy is not None:
            lines.append(f"accuracy: input {self.baseline_accuracy:.4f} -> optimized {self.accuracy:.4f}")
        if self.speedup is not None:
            verdict = (
                f"{self.speedup:.2f}x faster" if self.speedup >= 1 else f"{1 / self.speedup:.2f}x slower"
            )
            lines.append(
                f"latency: input {self.fp32_ms:.2f} ms -> optimized {self.optimized_ms:.2f} ms per batch of "
                f"{self.batch_size} ({verdict}, ratio spread {self.spread or 0:.0%})"
            )
        for key, value in self.details.items():
            lines.append(f"{key}: {value}")
        if self.path is not None:
            lines.append(f"saved: {self.path}")
        return "\n".join(lines)


def parse_precisions(value: Any, what: str = "precisions") -> tuple[str, ...]:
    """``"bf16, fp32"`` or a list, lower-cased and checked (LPOT 1.x spells them both ways)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError(f"{what}: expected names such as 'bf16, fp32', got {value!r}")
    out = tuple(sorted({str(p).strip().lower() for p in items if str(p).strip()}))
    unknown = [p for p in out if p not in PRECISIONS]
    if unknown or not out:
        raise ConfigError(f"{what}: unknown {unknown or value!r}; expected some of {', '.join(PRECISIONS)}")
    return out


def configured_precisions(cfg: Any, section: str) -> Any:
    """The ``precisions`` an LPOT 1.x YAML section (``graph_optimization``, ``mixed_precision``)
    names, unparsed, or None."""
    given = cfg.extra_sections.get(section)
    return given.get("precisions") if isinstance(given, dict) else None


def optimize(
    model: Any,
    precisions: Any = "fp32",
    *,
    config: Any = None,
    eval_func: Callable[[Any], Any] | None = None,
    eval_dataloader: Iterable[Any] | None = None,
    bench_dataloader: Iterable[Any] | None = None,
    output: str | Path | None = None,
    backend: Any = None,
) -> OptimizeResult:
    """``model`` with the backend's graph optimizations for ``precisions`` (``"fp32"``, or
    ``"bf16, fp32"`` for auto-mixed BF16); measured where data is given, saved where ``output`` is.
    """
    from lpot.api import _evaluator, resolve_backend
    from lpot.config import load_config

    cfg = load_config(config)
    wanted = parse_precisions(precisions)
    chosen, _ = resolve_backend(model, cfg, backend)
    if not chosen.has(Feature.OPTIMIZE):
        raise FeatureNotAvailableError(
            f"the {chosen.name} backend has no graph optimization (lpot.optimize); use lpot.tune"
        )
    if "int8" in wanted:
        raise ConfigError("precisions: int8 is quantization; use lpot.tune (or lpot tune) for it")
    native = chosen.load(model)
    evaluator = (
        _evaluator(chosen, cfg, eval_func, eval_dataloader, False)
        if _evaluates(eval_func, eval_dataloader)
        else None
    )
    optimized, baseline, accuracy, kept = _accuracy_driven(chosen, native, wanted, evaluator, cfg)
    fp32_ms, optimized_ms, batch, spread = _latencies(
        chosen, native, optimized.model, bench_dataloader or eval_dataloader
    )
    result = OptimizeResult(
        model=optimized.model,
        precisions=wanted,
        low_precision_ops=optimized.low_precision_ops,
        kept_fp32=kept,
        baseline_accuracy=baseline,
        accuracy=accuracy,
        fp32_ms=fp32_ms,
        optimized_ms=optimized_ms,
        batch_size=batch,
        spread=spread,
        details=dict(optimized.details),
    )
    if output is not None:
        result = _save(chosen, result, Path(output))
    return result


def _evaluates(eval_func: Any, eval_dataloader: Any) -> bool:
    return eval_func is not None or eval_dataloader is not None


def _accuracy_driven(
    backend: Any, native: Any, precisions: tuple[str, ...], evaluator: Any, cfg: Any
) -> tuple[Optimized, float | None, float | None, tuple[str, ...]]:
    """The optimized model, with ops kept in FP32 one at a time while it misses the criterion."""
    optimized = backend.engine.optimize(native, precisions, frozenset())
    if evaluator is None:
        return optimized, None, None, ()
    baseline = evaluator(native)
    goal = cfg.tuning.accuracy_criterion.to_goal(baseline, evaluator.higher_is_better)
    accuracy, kept = evaluator(optimized.model), []
    candidates = list(optimized.low_precision_ops)
    while not goal.met(accuracy) and candidates:
        kept.append(candidates.pop(0))
        optimized = backend.engine.optimize(native, precisions, frozenset(kept))
        accuracy = evaluator(optimized.model)
        log.info("kept %s in FP32: accuracy %.4f (goal %.4f)", kept[-1], accuracy, goal.threshold)
    if not goal.met(accuracy):
        log.warning("the optimized model misses the accuracy goal even with every op in FP32")
    return optimized, baseline, accuracy, tuple(kept)


def _latencies(
    backend: Any, native: Any, optimized: Any, data: Iterable[Any] | None
) -> tuple[float | None, float | None, int | None, float | None]:
    """Input and optimized latency, interleaved as tuning measures candidates."""
    if data is None:
        return None, None, None, None
    from lpot.objectives import Performance, bind_reference

    performance = bind_reference(Performance(budget_s=6.0), native)
    fp32 = performance.measure(backend, native, data)
    fast = performance.measure(backend, optimized, data)
    return fp32, fast, performance.batch_size, performance.last.get("spread")


def _save(backend: Any, result: OptimizeResult, folder: Path) -> OptimizeResult:
    """The model and ``summary.json`` written atomically into ``folder``."""
    from dataclasses import replace

    from lpot.tuning.workspace import write_folder

    def fill(tmp: Path) -> Path:
        model_file = backend.save(result.model, tmp)
        (tmp / "summary.json").write_text(json.dumps(result.summary_dict(), indent=2, default=str))
        return model_file

    folder.parent.mkdir(parents=True, exist_ok=True)
    return replace(result, path=write_folder(folder, fill))
