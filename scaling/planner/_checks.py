"""Checks of the numbers a planning query is given (one-line ScalingErrors naming the argument)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import ScalingError

# relative mismatch tolerated between a budget and the size x tokens it is given with
OVERDETERMINED_RTOL = 0.01


def positive(x, what: str, *, allow_zero: bool = False) -> float:
    """``x`` as a finite float > 0 (>= 0 with ``allow_zero``)."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ScalingError(f"{what} must be a number, got {x!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise ScalingError(f"{what} must be finite, got {x!r}")
    if v < 0:
        raise ScalingError(f"{what} must not be negative, got {v:g}")
    if v == 0 and not allow_zero:
        raise ScalingError(f"{what} must be positive, got 0")
    return v


def values(x, what) -> list[float | None]:
    """A number or a sequence as a list of positive floats; [None] when not given."""
    if x is None:
        return [None]
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    for v in arr:
        if not math.isfinite(v):
            raise ScalingError(f"{what}: {v} is not finite")
        if v <= 0:
            raise ScalingError(f"{what}: {v:g} must be positive")
    return [float(v) for v in arr]
