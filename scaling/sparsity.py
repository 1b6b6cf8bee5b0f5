"""Weight sparsity as numbers: a sparsity fraction, and semi-structured ``N:M`` patterns.

A fraction ``S`` in [0, 1) of a layer's weights is zero. A semi-structured ``N:M`` pattern (``"2:4"``: in
every group of M consecutive weights along a layer's input dimension, exactly N are non-zero, the pattern
NVIDIA's sparse tensor cores execute from Ampere on; Mishra et al. 2021, arXiv:2104.08378) has the
sparsity ``S = 1 - N/M``. FLOP counts (:mod:`scaling.flops`) treat it like unstructured sparsity of the
same density; what differs is the speed the hardware runs it at (:mod:`scaling.hardware`).

Pure Python and numpy; every bad value is a one-line ScalingError naming the argument.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ScalingError


def check_sparsity(s) -> np.ndarray:
    """``s`` as a float array, checked to lie in [0, 1) (ScalingError naming the first bad value)."""
    arr = np.asarray(s, dtype=float)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr >= 1)):
        bad = arr[~(np.isfinite(arr) & (arr >= 0) & (arr < 1))].flat[0]
        raise ScalingError(f"sparsity must be in [0, 1): got {bad:g}")
    return arr


def parse_pattern(pattern, what: str = "sparsity pattern") -> tuple[int, int] | None:
    """``"N:M"`` -> ``(N, M)`` (N non-zero weights in every group of M); None or ``"unstructured"`` -> None.

    N and M are whole numbers with ``0 < N < M``; anything else raises ScalingError in one line
    (``what`` names the argument).
    """
    if pattern is None:
        return None
    if isinstance(pattern, tuple) and len(pattern) == 2:
        text = f"{pattern[0]}:{pattern[1]}"
    else:
        text = str(pattern).strip()
    if text.lower() == "unstructured":
        return None
    parts = text.split(":")
    if len(parts) == 2 and all(p.strip().isdigit() for p in parts):
        n, m = int(parts[0]), int(parts[1])
        if 0 < n < m:
            return n, m
    raise ScalingError(
        f"{what} must be N:M with whole numbers 0 < N < M (2:4 keeps 2 non-zero weights in "
        f"every group of 4) or 'unstructured': got {str(pattern)!r}"
    )


def format_pattern(pattern) -> str:
    """``"N:M"`` of a pattern, or ``"unstructured"``."""
    nm = parse_pattern(pattern)
    return "unstructured" if nm is None else f"{nm[0]}:{nm[1]}"


def pattern_sparsity(pattern) -> float:
    """The sparsity of an N:M pattern, ``1 - N/M`` (0.5 for 2:4); ScalingError for no pattern."""
    nm = parse_pattern(pattern)
    if nm is None:
        raise ScalingError("an unstructured mask has no sparsity of its own: give the sparsity")
    return 1.0 - nm[0] / nm[1]


def resolve_sparsity(sparsity, pattern, *, what: str = "sparsity") -> float:
    """The sparsity of a layer with ``pattern`` (None: unstructured) and ``sparsity``.

    With an N:M pattern, ``sparsity`` None or 0 means the pattern's ``1 - N/M``; any other value must
    equal it (within 1e-9), else ScalingError (``what`` names the argument in the message).
    """
    nm = parse_pattern(pattern)
    if nm is None:
        if sparsity is None:
            return 0.0
        return float(check_sparsity(sparsity))
    implied = 1.0 - nm[0] / nm[1]
    if sparsity is None or float(sparsity) == 0.0:
        return implied
    s = float(sparsity)
    if not (math.isfinite(s) and abs(s - implied) <= 1e-9):
        raise ScalingError(
            f"pattern {nm[0]}:{nm[1]} keeps {nm[0]} of every {nm[1]} weights (sparsity {implied:g}): "
            f"{what} {s:g} disagrees"
        )
    return implied


__all__ = ["check_sparsity", "format_pattern", "parse_pattern", "pattern_sparsity", "resolve_sparsity"]
