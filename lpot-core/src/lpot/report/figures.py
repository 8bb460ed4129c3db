"""Numbers a person can read: every figure with its unit, a ratio said the way it goes ("1.4x
slower", never "0.71x faster"), and accuracies with enough digits to show why one missed its goal."""

from __future__ import annotations

import math

# objective unit -> (how a larger value reads, how a smaller one reads)
_BETTER_WORDS = {
    "ms": ("slower", "faster"),
    "bytes": ("larger", "smaller"),
    "samples/s": ("faster", "slower"),
    "x FP32": ("costlier", "cheaper"),
}


def quantity(value: float | None, unit: str) -> str:
    """``value`` in ``unit`` as people write it: 1.23 ms, 4.7 MB, 1,234 samples/s, 0.62x FP32."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "bytes":
        for scale, name in ((2**30, "GB"), (2**20, "MB"), (2**10, "KB")):
            if abs(value) >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:.0f} B"
    if unit == "ms":
        return f"{value:.3g} ms" if value < 1000 else f"{value / 1000:.3g} s"
    if unit == "samples/s":
        return f"{value:,.0f} samples/s" if value >= 100 else f"{value:.3g} samples/s"
    if unit == "x FP32":
        return f"{value:.3g}x FP32"
    return f"{value:.4g} {unit}".strip()


def ratio_phrase(baseline: float | None, tuned: float | None, unit: str, higher_is_better: bool) -> str:
    """How the tuned figure compares with FP32, as a factor >= 1 with the word that fits."""
    if not baseline or not tuned or baseline <= 0 or tuned <= 0:
        return ""
    larger, smaller = _BETTER_WORDS.get(
        unit, ("higher", "lower") if higher_is_better else ("worse", "better")
    )
    if math.isclose(baseline, tuned, rel_tol=5e-3):
        return "same as FP32"
    factor = max(tuned / baseline, baseline / tuned)
    return f"{factor:.2f}x {larger if tuned > baseline else smaller}"


def accuracy_digits(values: list[float], goal: float | None) -> int:
    """Decimals (4 to 8) enough that no value at a distance from the goal prints as the goal."""
    if goal is None:
        return 4
    for digits in range(4, 9):
        if all(v == goal or math.isnan(v) or f"{v:.{digits}f}" != f"{goal:.{digits}f}" for v in values):
            return digits
    return 8


def accuracy_text(value: float, digits: int) -> str:
    return "nan" if math.isnan(value) else f"{value:.{digits}f}"
