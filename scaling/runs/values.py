"""The values of a runs table's columns: numbers from text ('2.8B', '125m'), positivity checks
that name the row, log10 columns undone, and the status values that mean a run finished.

This module imports numpy and pandas only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..units import parse_number

OK_STATUS = {"ok", "done", "finished", "complete", "completed", "success", "succeeded", ""}


class RunsWarning(UserWarning):
    """A column was derived (tokens from FLOPs, FLOPs from 6ND) or rows were dropped."""


def _row_ref(row: int, source: str, file_based: bool) -> str:
    if file_based and str(source).lower().endswith((".csv", ".tsv", ".tab")):
        return f"{source} row {row} (line {row + 1})"
    if file_based:
        return f"{source} row {row}"
    return f"row {row}"


def _to_float(df: pd.DataFrame, col: str, role: str, source: str, file_based: bool) -> pd.Series:
    """Numeric values of a column; strings such as '2.8B' or '125m' parse via scaling.units."""
    s = df[col]
    if pd.api.types.is_bool_dtype(s):
        raise ScalingError(f"{source}: column {col!r} ({role}) holds true/false values, not numbers")
    if pd.api.types.is_numeric_dtype(s):
        return s.astype(float)
    out = np.empty(len(s), dtype=float)
    for i, (row, v) in enumerate(s.items()):
        if v is None or (isinstance(v, str) and not v.strip()):
            out[i] = np.nan
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            out[i] = float(v)
            continue
        if isinstance(v, str) and v.strip().lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
            out[i] = float(v.strip().lower().replace("infinity", "inf"))
            continue
        try:
            out[i] = parse_number(v, what=col, positive=False)
        except ScalingError:
            raise ScalingError(
                f"{_row_ref(row, source, file_based)}: {role} ({col!r}) = {v!r} is not a number "
                "(use e.g. 1.3e9, 2.8B, 125M)"
            ) from None
    return pd.Series(out, index=s.index, name=col)


def _check_positive(
    df: pd.DataFrame, col: str, role: str, source: str, file_based: bool, allow_zero: bool = False
) -> None:
    v = df[col].to_numpy(dtype=float)
    bad = ~np.isfinite(v) | ((v < 0) if allow_zero else (v <= 0))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    row = df.index[i]
    x = v[i]
    what = (
        "NaN (empty or missing)"
        if np.isnan(x)
        else "infinite"
        if np.isinf(x)
        else f"{x:g}; it must be {'non-negative' if allow_zero else 'positive'}"
    )
    more = f" ({int(bad.sum()) - 1} more such rows)" if bad.sum() > 1 else ""
    src = f" (column {col!r})" if col != role else ""
    raise ScalingError(f"{_row_ref(int(row), source, file_based)}: {role}{src} is {what}{more}")


def _maybe_log10(values: pd.Series, role: str, col: str, log10: bool | None, source: str) -> pd.Series:
    """Undo a log10 column (tokens 9.3 means 2e9 tokens); auto-detected when every value is below 40."""
    v = values.to_numpy(dtype=float)
    finite = v[np.isfinite(v)]
    if log10 is None:
        log10 = bool(
            finite.size
            and role in ("tokens", "flops")
            and np.all(finite < 40)
            and np.all(finite > 0)
            and np.max(finite) > 3
        )
        if log10:
            warnings.warn(
                f"{source}: column {col!r} ({role}) holds values {finite.min():.3g}..{finite.max():.3g}, "
                f"read as log10 ({role} = 10**{col})",
                RunsWarning,
                stacklevel=3,
            )
    if log10:
        return pd.Series(10.0**v, index=values.index, name=values.name)
    return values
