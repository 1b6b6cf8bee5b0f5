"""Training curves: one row per evaluation of a run (what Approach 1 fits).

This module imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..units import si
from .columns import _avail, apply_where, find_column, params_convention_of
from .read import _source_name, read_table
from .values import OK_STATUS, RunsWarning, _check_positive, _maybe_log10, _to_float


def load_curves(
    source: str | Path | pd.DataFrame,
    *,
    run_id_col: str | None = None,
    params_col: str | None = None,
    tokens_col: str | None = None,
    step_col: str | None = None,
    tokens_per_step: float | None = None,
    flops_col: str | None = None,
    loss_col: str | None = None,
    ppl_col: str | None = None,
    where: str | None = None,
    log10: Iterable[str] | None = None,
    flops_convention: str = "6nd",
    drop_failed: bool = True,
) -> pd.DataFrame:
    """Load training curves: one row per evaluation, columns run_id, params, tokens, flops, loss.

    A run is identified by its run_id column when there is one, else by its size; a run_id that
    covers several sizes (e.g. a model-family name) is split by size ("OPT/125M").
    Tokens come from a tokens column, or from a step column times ``tokens_per_step``, or from
    FLOPs (D = C / 6N, with a warning). A perplexity column (``ppl``) is turned into a loss
    (log ppl, nats) when there is no loss column. Columns holding log10 values (tokens, flops)
    are detected (all values below 40) or named in ``log10``.
    Rows are sorted by run, then tokens; the index is the 1-based data row of the source.
    """
    src = _source_name(source)
    file_based = not isinstance(source, pd.DataFrame)
    raw = read_table(source)
    if raw.shape[1] == 0 or len(raw) == 0:
        raise ScalingError(f"{src} has no evaluations (empty table)")
    cols: dict[str, str] = {}
    cols["params"] = find_column(raw, "params", params_col, source=src)
    lcol = find_column(raw, "loss", loss_col, required=False, source=src)
    pcol = None
    if lcol is None:
        pcol = find_column(raw, "ppl", ppl_col, required=ppl_col is not None, source=src)
        if pcol is None:
            find_column(raw, "loss", None, required=True, source=src)
        cols["ppl"] = pcol
    else:
        cols["loss"] = lcol
    tcol = find_column(raw, "tokens", tokens_col, required=False, source=src)
    fcol = find_column(raw, "flops", flops_col, required=False, source=src)
    stcol = find_column(raw, "step", step_col, required=False, source=src) if tcol is None else None
    if tcol is not None:
        cols["tokens"] = tcol
    if fcol is not None:
        cols["flops"] = fcol
    if tcol is None and fcol is None:
        if stcol is None or tokens_per_step is None:
            hint = (
                f"; found step column {stcol!r}: pass tokens_per_step (batch size x context)"
                if stcol
                else f"; available: {_avail(raw.columns)}"
            )
            raise ScalingError(
                f"{src}: training curves need a tokens column (or FLOPs, or steps with tokens_per_step){hint}"
            )
        cols["step"] = stcol
    rcol = find_column(raw, "run_id", run_id_col, required=False, source=src)
    scol = find_column(raw, "status", None, required=False, source=src)

    df = raw
    notes: list[str] = []
    if scol is not None and drop_failed:
        st = df[scol].astype("string").fillna("").str.strip().str.lower()
        failed = ~st.isin(OK_STATUS)
        if failed.any():
            notes.append(f"dropped {int(failed.sum())} evaluation rows of failed runs")
            warnings.warn(f"{src}: {notes[-1]}", RunsWarning, stacklevel=2)
            df = df.loc[~failed.to_numpy()]
    logs = set(log10) if log10 is not None else None
    out = pd.DataFrame(index=df.index)
    params = _to_float(df, cols["params"], "params", src, file_based)
    if rcol is not None:
        rid = df[rcol].astype("string").fillna("").astype(str)
        sizes_per_id = params.groupby(rid).nunique()
        multi = set(sizes_per_id.index[sizes_per_id.to_numpy() > 1])
        rid = pd.Series([f"{r}/{si(p)}" if r in multi else r for r, p in zip(rid, params)], index=df.index)
        cols["run_id"] = rcol
    else:
        rid = pd.Series([f"N={si(p)}" if np.isfinite(p) else "N=?" for p in params], index=df.index)
    out["run_id"] = rid.astype(object)
    out["params"] = params
    if "tokens" in cols:
        out["tokens"] = _maybe_log10(
            _to_float(df, tcol, "tokens", src, file_based),
            "tokens",
            tcol,
            ("tokens" in logs) if logs is not None else None,
            src,
        )
    elif "step" in cols:
        out["tokens"] = _to_float(df, stcol, "step", src, file_based) * float(tokens_per_step)
        notes.append(f"tokens = {stcol} x {tokens_per_step:g}")
    if "flops" in cols:
        out["flops"] = _maybe_log10(
            _to_float(df, fcol, "flops", src, file_based),
            "flops",
            fcol,
            ("flops" in logs) if logs is not None else None,
            src,
        )
    if "loss" in cols:
        out["loss"] = _to_float(df, lcol, "loss", src, file_based)
    else:
        ppl = _to_float(df, pcol, "ppl", src, file_based)
        _check_positive(pd.DataFrame({"ppl": ppl}), "ppl", "perplexity", src, file_based)
        out["loss"] = np.log(ppl)
        notes.append(f"loss = log({pcol}) (nats)")
    others = [c for c in df.columns if c not in out.columns]
    out = pd.concat([out, df[others]], axis=1)
    if where:
        out = apply_where(out, where, src)
    for role in ("params", "tokens", "flops"):
        if role in out.columns:
            _check_positive(out, role, role, src, file_based)
    _check_positive(out, "loss", "loss", src, file_based)
    if "tokens" not in out.columns:
        if flops_convention != "6nd":
            raise ScalingError(f"{src}: no tokens column and FLOPs under {flops_convention!r} cannot be inverted")
        out.insert(2, "tokens", out["flops"] / (6.0 * out["params"]))
        notes.append("tokens derived from FLOPs as D = C / (6 N)")
        warnings.warn(f"{src}: {notes[-1]}", RunsWarning, stacklevel=2)
    if "flops" not in out.columns:
        out.insert(3, "flops", 6.0 * out["params"] * out["tokens"])
    if len(out) == 0:
        raise ScalingError(f"{src}: no evaluations left after filters")
    d = out.duplicated(subset=["run_id", "tokens"], keep=False)
    if d.any():
        rows = list(out.index[d.to_numpy()][:2])
        raise ScalingError(
            f"{src}: rows {rows[0]} and {rows[1]} are two evaluations of run "
            f"{out.loc[rows[0], 'run_id']!r} at the same token count"
        )
    out = out.sort_values(["run_id", "tokens"], kind="stable")
    out.attrs["scaling"] = {
        "source": src,
        "columns": cols,
        "filters": [f"where: {where}"] if where else [],
        "notes": notes,
        "flops_convention": flops_convention,
        "params_convention": params_convention_of(cols["params"]),
        "n_source_rows": int(len(raw)),
    }
    return out
