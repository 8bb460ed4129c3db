"""Sparsity schedules: how much of a layer is pruned at a given point of training.

``gradual`` is the cubic schedule of Zhu & Gupta (2017, "To prune, or not to prune"): prune fast
while the network has redundancy, slowly as it approaches the target, so fine-tuning can recover.
"""

from __future__ import annotations

SCHEDULES = ("gradual", "linear", "oneshot")


def sparsity_at(
    epoch: float,
    *,
    target: float,
    initial: float = 0.0,
    start_epoch: int = 0,
    end_epoch: int = 0,
    schedule: str = "gradual",
    update_frequency: int = 1,
) -> float:
    """Sparsity to hold from ``epoch`` on. Before ``start_epoch``: 0 (dense). Updates happen only at
    ``start_epoch + k * update_frequency``; at and after ``end_epoch`` the target holds."""
    if epoch < start_epoch:
        return 0.0
    if schedule == "oneshot" or end_epoch <= start_epoch or epoch >= end_epoch:
        return target
    steps = int((epoch - start_epoch) // update_frequency) * update_frequency  # last update point
    progress = min(1.0, steps / (end_epoch - start_epoch))
    if schedule == "linear":
        return initial + (target - initial) * progress
    return target + (initial - target) * (1.0 - progress) ** 3
