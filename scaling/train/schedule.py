"""The schedules of a run, pure functions of the step and its config: the learning rate of every
optimizer step, and the steps after which the held-out loss is measured (no torch needed).

- Learning rate: linear warm-up, then cosine (or WSD, linear, constant) decay that reaches
  ``min_lr_ratio * lr`` exactly at the last step: the schedule always ends at this run's budget.
- Evaluation: ``eval_points`` times, evenly spread, and always after the last step.
"""

from __future__ import annotations

import math

from .. import store


def lr_at(step: int, cfg: store.RunConfig) -> float:
    """Learning rate of optimizer step ``step`` (0-based); the last step gets ``min_lr_ratio * lr``.

    WSD: warm-up, constant, then a cool-down over the last ``decay_fraction`` of the steps, linear
    or ``1 - sqrt`` (Hägele et al. 2024, arXiv:2405.18392). With ``warmup_steps`` set, a WSD
    schedule is the same function of the step for every run length up to its decay start, so
    branches of one trunk (:mod:`scaling.train.branches`) compute exactly what plain runs would.
    """
    steps = cfg.steps
    peak, floor = cfg.lr, cfg.lr * cfg.min_lr_ratio
    warm = cfg.warmup
    if step < warm:
        return peak * (step + 1) / warm
    if cfg.schedule == "constant":
        return peak
    if cfg.schedule == "wsd":
        decay_start = cfg.decay_start
        if step < decay_start:
            return peak
        t = (step - decay_start + 1) / (steps - decay_start)
        if cfg.decay_shape == "sqrt":
            return floor + (peak - floor) * (1.0 - math.sqrt(t))
        return peak + (floor - peak) * t
    t = (step - warm) / max(1, steps - 1 - warm)
    if cfg.schedule == "linear":
        return peak + (floor - peak) * t
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def eval_steps(cfg: store.RunConfig) -> list[int]:
    """Steps (1-based counts of optimizer steps done) after which the held-out loss is measured."""
    steps = cfg.steps
    return sorted({max(1, round(steps * i / cfg.eval_points)) for i in range(1, cfg.eval_points + 1)} | {steps})
