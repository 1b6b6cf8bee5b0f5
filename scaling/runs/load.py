"""The runs loader: a table of runs (one row per run) into the canonical runs DataFrame.

This module imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..units import parse_number
from .checks import _check_duplicates, plausibility
from .columns import CANONICAL, _avail, apply_where, find_column, params_convention_of
from .read import _source_name, read_table
from .values import OK_STATUS, RunsWarning, _check_positive, _maybe_log10, _row_ref, _to_float


def load_runs(
    source: str | Path | pd.DataFrame,
    *,
    params_col: str | None = None,
    tokens_col: str | None = None,
    flops_col: str | None = None,
    loss_col: str | None = None,
    run_id_col: str | None = None,
    unique_tokens_col: str | None = None,
    status_col: str | None = None,
    where: str | None = None,
    min_flops: float | str | None = None,
    max_flops: float | str | None = None,
    drop_failed: bool = True,
    flops_convention: str = "6nd",
    log10: Iterable[str] | None = None,
    min_runs: int = 2,
) -> pd.DataFrame:
    """Load a table of runs (one row per run) into the canonical runs DataFrame.

    Parameters
    ----------
    source: a CSV / TSV / Parquet (needs pyarrow) / JSON-lines file, or a DataFrame.
    params_col, tokens_col, flops_col, loss_col, run_id_col, unique_tokens_col, status_col:
        the source column for each role; when omitted, a common name is looked for
        (N / params / num_params / "Model Size" / param_count; D / tokens / num_tokens;
        C / flops / FLOPs / flops_6ND; loss / val_loss / loss_c4_val / eval_loss ...).
        Values such as "2.8B" or "125m" parse as numbers.
    where: a pandas query (``"dataset == 'rw' and loss_type == 'val'"``) over the source columns and
        the canonical ones; applied before validation, so it may exclude bad rows.
    min_flops, max_flops: keep runs with min_flops <= flops <= max_flops.
    drop_failed: drop runs whose status column says anything but ok/done/finished (with a warning).
    flops_convention: the convention of the FLOPs column; a missing column is derived under it
        (only "6nd", C = 6 N D, is derivable here). Tokens missing: D = C / (6 N), with a warning.
    log10: roles ("tokens", "flops") whose column holds log10 values; default: detected (all values < 40).
    min_runs: fewer runs than this (after filters) is an error.

    Returns the DataFrame with columns run_id, params, tokens, flops, loss, then the other source
    columns; index = 1-based data row in the source. Errors are one-line ScalingErrors naming the
    row or column.
    """
    src = _source_name(source)
    file_based = not isinstance(source, pd.DataFrame)
    raw = read_table(source)
    if raw.shape[1] == 0:
        raise ScalingError(f"{src} is empty (no header, no runs)")
    if len(raw) == 0:
        raise ScalingError(f"{src} has a header but no runs (columns: {_avail(raw.columns)})")

    cols: dict[str, str] = {}
    cols["params"] = find_column(raw, "params", params_col, source=src)
    cols["loss"] = find_column(raw, "loss", loss_col, source=src)
    tcol = find_column(raw, "tokens", tokens_col, required=False, source=src)
    fcol = find_column(raw, "flops", flops_col, required=False, source=src)
    if tcol is None and fcol is None:
        find_column(raw, "tokens", None, required=True, source=src)  # raises with the available columns
    if tcol is not None:
        cols["tokens"] = tcol
    if fcol is not None:
        cols["flops"] = fcol
    rcol = find_column(raw, "run_id", run_id_col, required=False, source=src)
    if rcol is not None:
        cols["run_id"] = rcol
    ucol = find_column(raw, "unique_tokens", unique_tokens_col, required=False, source=src)
    if ucol is not None:
        cols["unique_tokens"] = ucol
    scol = find_column(raw, "status", status_col, required=False, source=src)
    if scol is not None:
        cols["status"] = scol
    used = [c for r, c in cols.items() if r in ("params", "loss", "tokens", "flops")]
    dup = {c for c in used if used.count(c) > 1}
    if dup:
        raise ScalingError(f"{src}: column {sorted(dup)[0]!r} is mapped to more than one role ({cols})")

    notes: list[str] = []
    filters: list[str] = []
    df = raw

    # failed runs go first: their loss is often missing
    if scol is not None and drop_failed:
        st = df[scol].astype("string").fillna("").str.strip().str.lower()
        failed = ~st.isin(OK_STATUS)
        if failed.any():
            rows = list(df.index[failed.to_numpy()])
            shown = ", ".join(map(str, rows[:8])) + (", ..." if len(rows) > 8 else "")
            note = f"dropped {len(rows)} failed run(s) ({scol} not ok; rows {shown})"
            notes.append(note)
            filters.append(f"{scol} == ok")
            warnings.warn(f"{src}: {note}", RunsWarning, stacklevel=2)
            df = df.loc[~failed.to_numpy()]
            if len(df) == 0:
                raise ScalingError(f"{src}: every run failed ({scol} not ok); nothing to load")

    logs = set(log10) if log10 is not None else None
    canon: dict[str, pd.Series] = {}
    for role in ("params", "tokens", "flops", "loss", "unique_tokens"):
        if role in cols:
            s = _to_float(df, cols[role], role, src, file_based)
            if role in ("tokens", "flops"):
                s = _maybe_log10(s, role, cols[role], (role in logs) if logs is not None else None, src)
            canon[role] = s
    if "run_id" in cols:
        rid = df[cols["run_id"]]
        canon["run_id"] = rid.astype("string").fillna("").astype(str)
    else:
        canon["run_id"] = pd.Series([f"row{r}" for r in df.index], index=df.index, dtype=object)

    out = pd.DataFrame(index=df.index)
    for role in CANONICAL:
        if role in canon:
            out[role] = canon[role]
    others = [c for c in df.columns if c not in out.columns]
    out = pd.concat([out, df[others]], axis=1)
    if "unique_tokens" in canon:
        out["unique_tokens"] = canon["unique_tokens"]

    if where:
        out = apply_where(out, where, src)
        filters.append(f"where: {where}")

    # validate what the source gave us
    for role in ("params", "tokens", "flops", "loss"):
        if role in out.columns:
            _check_positive(out, role, role, src, file_based)
    if "unique_tokens" in out.columns:
        _check_positive(out, "unique_tokens", "unique_tokens", src, file_based)

    # derive what it did not
    if "tokens" not in out.columns:
        if flops_convention != "6nd":
            raise ScalingError(
                f"{src}: no tokens column, and tokens cannot be derived from FLOPs under the "
                f"{flops_convention!r} convention; pass tokens_col=NAME"
            )
        tokens = out["flops"] / (6.0 * out["params"])
        out.insert(out.columns.get_loc("flops"), "tokens", tokens)
        note = f"no tokens column: tokens derived from FLOPs as D = C / (6 N) (column {cols['flops']!r})"
        notes.append(note)
        warnings.warn(f"{src}: {note}", RunsWarning, stacklevel=2)
    if "flops" not in out.columns:
        if flops_convention != "6nd":
            raise ScalingError(
                f"{src}: no FLOPs column, and FLOPs cannot be derived under the "
                f"{flops_convention!r} convention; pass flops_col=NAME"
            )
        out.insert(out.columns.get_loc("tokens") + 1, "flops", 6.0 * out["params"] * out["tokens"])
        notes.append("no FLOPs column: flops = 6 N D")
    for col in ("tokens", "flops"):  # a derived column can under- or overflow where its inputs did not
        v = out[col].to_numpy(dtype=float)
        bad = ~(np.isfinite(v) & (v > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ScalingError(
                f"{_row_ref(int(out.index[i]), src, file_based)}: {col} derived from the other columns is "
                f"{v[i]:g} (params {out['params'].iloc[i]:g}): out of floating-point range; are the units right?"
            )

    lo = None if min_flops is None else parse_number(min_flops, "min_flops")
    hi = None if max_flops is None else parse_number(max_flops, "max_flops")
    if lo is not None or hi is not None:
        keep = np.ones(len(out), dtype=bool)
        if lo is not None:
            keep &= out["flops"].to_numpy() >= lo * (1 - 1e-9)
            filters.append(f"flops >= {lo:.4g}")
        if hi is not None:
            keep &= out["flops"].to_numpy() <= hi * (1 + 1e-9)
            filters.append(f"flops <= {hi:.4g}")
        out = out.loc[keep]

    if len(out) == 0:
        raise ScalingError(
            f"{src}: no runs left after filters ({'; '.join(filters) or 'none'}); {len(raw)} rows before filtering"
        )

    _check_duplicates(out, cols, src, file_based)

    if len(out) < min_runs:
        rows = ", ".join(map(str, out.index[:3]))
        raise ScalingError(
            f"{src}: only {len(out)} run{'s' if len(out) != 1 else ''} (row {rows}) "
            f"{'after filters ' if filters else ''}; a fit needs at least {min_runs}"
        )

    checks = plausibility(out, cols, flops_convention=flops_convention, source=src, file_based=file_based)
    for c in checks:
        warnings.warn(f"{src}: {c}", RunsWarning, stacklevel=2)

    out.attrs["scaling"] = {
        "source": src,
        "columns": {r: c for r, c in cols.items()},
        "filters": filters,
        "notes": notes,
        "flops_convention": flops_convention,
        "params_convention": params_convention_of(cols["params"]),
        "n_source_rows": int(len(raw)),
        "checks": checks,
    }
    return out


def as_runs(runs: Any, **kw) -> pd.DataFrame:
    """A runs DataFrame from a path, a DataFrame already in canonical form, or a raw DataFrame."""
    if (
        isinstance(runs, pd.DataFrame)
        and all(c in runs.columns for c in ("params", "tokens", "flops", "loss"))
        and not kw
    ):
        return runs
    return load_runs(runs, **kw)
