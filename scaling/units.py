"""Parsing and printing of the large numbers this field lives on.

Accepted on input: ``1e21``, ``1.5e23``, ``3.2E+24``, ``5_000``, and SI suffixes
``K`` (1e3), ``M`` (1e6), ``B``/``G`` (1e9), ``T`` (1e12), ``P`` (1e15), ``E`` (1e18)
(case-insensitive except that a bare ``e`` is an exponent), e.g. ``70B``, ``1.4T``, ``250M``.
"""

from __future__ import annotations

import math
import re

from .errors import ScalingError

_SUFFIX = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_NUM = re.compile(r"^\s*([+-]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([kKmMbBgGtTpP]?)\s*$")


def parse_number(
    text: str | float | int, what: str = "value", *, positive: bool = True, allow_zero: bool = False
) -> float:
    """Parse ``text`` into a finite float; raise ScalingError naming ``what`` otherwise."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        m = _NUM.match(str(text))
        if not m:
            raise ScalingError(f"{what}: {text!r} is not a number (use e.g. 1e21, 1.5e23, 70B, 1.4T)")
        value = float(m.group(1).replace("_", "")) * _SUFFIX.get(m.group(2).lower(), 1.0)
    if not math.isfinite(value):
        raise ScalingError(f"{what}: {text!r} is not finite")
    if positive and value < 0:
        raise ScalingError(f"{what}: {text!r} is negative; it must be positive")
    if positive and value == 0 and not allow_zero:
        raise ScalingError(f"{what}: {text!r} is zero; it must be positive")
    return value


def si(value: float, digits: int = 3) -> str:
    """Format a count with an SI suffix: 4.04e10 -> '40.4B', 1.33e12 -> '1.33T'."""
    if value is None or not math.isfinite(value):
        return str(value)
    units = ((1.0, ""), (1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T"), (1e15, "P"))
    a = abs(value)
    k = max((i for i, (div, _) in enumerate(units) if a >= div), default=0)
    text = f"{value / units[k][0]:.{digits}g}"
    # rounding can carry into the next unit: 999.99e6 -> '1e+03M' is '1B'
    while abs(float(text)) >= 1000 and k + 1 < len(units):
        k += 1
        text = f"{value / units[k][0]:.{digits}g}"
    if "e" in text:  # beyond the largest suffix, or below 1e-4
        return f"{value:.{digits}g}"
    return text + units[k][1]


def sci(value: float, digits: int = 3) -> str:
    """Format a FLOP count in scientific notation: '5.76e+23'."""
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits - 1}e}"
