"""The learning-rate schedule: linear warm-up, then cosine decay to a floor.

A pure function of the step, so a resumed run needs nothing but the step number.
"""
from __future__ import annotations

import math

from .config import OptimSection


def learning_rate(step: int, total_steps: int, optim: OptimSection) -> float:
    """Learning rate of optimizer step ``step`` (0-based) of ``total_steps``.

    Rises linearly from lr / warmup_steps to lr over the first ``warmup_steps`` steps,
    then follows half a cosine from lr down to min_lr at the last step.
    """
    if step < optim.warmup_steps:
        return optim.lr * (step + 1) / optim.warmup_steps
    decay_steps = max(1, total_steps - 1 - optim.warmup_steps)
    progress = min(1.0, (step - optim.warmup_steps) / decay_steps)
    return optim.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (optim.lr - optim.min_lr)
