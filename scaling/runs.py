"""Runs tables: loading, validating and describing the training runs a fit is made from.

A runs table is a pandas DataFrame with one row per run and at least the canonical columns

    run_id, params, tokens, flops, loss

(parameters N, training tokens D, training FLOPs C, final loss in nats per token), followed by
every other column of the source (dataset, arch, sparsity, seed, unique_tokens, status, ...).
The source columns that were mapped onto a canonical role are kept under their own name too, so
a ``where`` filter may use either.

The index holds the 1-based data row of each run in the source (the header is not counted), so
that an error found later (in a fit) can still point at the row of the file. ``df.attrs["scaling"]``
records the source, the column mapping, the filters applied and any notes (see ``data_info``).

Training curves (one row per evaluation of a run) are loaded by ``load_curves``; Approach 1 fits
them. ``load_runs`` rejects a table in which a run appears more than once.

Validation (plausibility warnings, duplicated runs, fitter requirements) lives in
``scaling._runs_checks`` and description (fingerprints, ``data_info``, ``describe_runs``, budget
grouping) in ``scaling._runs_describe``; both are re-exported here, so ``from scaling.runs import X``
works for every name.

This module imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._runs_checks import (  # noqa: F401  (the constants and _mixed_columns are re-exported: they lived here)
    CANONICAL,
    FLOPS_FACTOR,
    PARAMS_MIN,
    SEED_NOISE,
    TOKENS_MIN,
    TOKENS_PER_PARAM_MAX,
    _avail,
    _check_duplicates,
    _mixed_columns,
    _norm,
    _row_ref,
    _suggest,
    plausibility,
    require_columns,
    require_sizes,
)
from ._runs_describe import data_fingerprint, data_info, describe_runs, format_description, group_budgets
from .errors import ScalingError
from .units import parse_number

OK_STATUS = {"ok", "done", "finished", "complete", "completed", "success", "succeeded", ""}


class RunsWarning(UserWarning):
    """A column was derived (tokens from FLOPs, FLOPs from 6ND) or rows were dropped."""


# Auto-detected source names for each role, in order of preference. Matching ignores case,
# spaces, underscores and hyphens ("Model Size" == "model_size" == "modelsize").
ALIASES: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id", "run", "run_name", "name", "id", "runid"),
    "params": (
        "params",
        "N",
        "num_params",
        "n_params",
        "param_count",
        "parameters",
        "model_size",
        "nparams",
        "total_params",
        "params_total",
        "N_total",
        "size",
        "model_params",
    ),
    "tokens": (
        "tokens",
        "D",
        "num_tokens",
        "n_tokens",
        "num_token",
        "token_num",
        "train_tokens",
        "training_tokens",
        "tokens_seen",
        "total_tokens",
        "data_size",
        "dataset_size",
    ),
    "flops": (
        "flops",
        "C",
        "compute",
        "flops_6ND",
        "train_flops",
        "training_flops",
        "total_flops",
        "budget",
        "flops_budget",
    ),
    "loss": (
        "loss",
        "val_loss",
        "loss_c4_val",
        "eval_loss",
        "validation_loss",
        "valid_loss",
        "test_loss",
        "final_loss",
        "final_val_loss",
        "train_loss",
        "L",
    ),
    "unique_tokens": ("unique_tokens", "U", "U_unique", "num_unique_tokens", "unique"),
    "status": ("status", "state", "run_status"),
    "step": ("step", "steps", "iteration", "iter", "global_step"),
    "ppl": ("ppl", "perplexity", "val_ppl", "eval_ppl"),
}
_ROLE_WORDS = {
    "params": "parameter count",
    "tokens": "training tokens",
    "flops": "training FLOPs",
    "loss": "loss",
    "run_id": "run id",
    "unique_tokens": "unique tokens",
    "status": "status",
    "step": "step",
    "ppl": "perplexity",
}


# ------------------------------------------------------------------------------------------------
# reading


def _source_name(source) -> str:
    if isinstance(source, pd.DataFrame):
        return "<DataFrame>"
    return str(source)


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet / JSON(-lines) file, or copy a DataFrame; index = 1-based data row."""
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        if df.index.name == "source_row" and df.index.is_unique:
            return df  # already numbered by a loader: keep pointing at the original rows
        df.index = pd.RangeIndex(1, len(df) + 1, name="source_row")
        df.columns = [str(c).strip() for c in df.columns]
        return df
    if not isinstance(source, (str, Path)):
        raise ScalingError(f"runs: expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise ScalingError(f"runs file not found: {str(path)!r}")
    if path.is_dir():
        raise ScalingError(f"{path} is a directory; give a CSV or Parquet file of runs")
    suffixes = [s.lower() for s in path.suffixes]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".gz", ".bz2", ".xz", ".zst", ".zip") and len(suffixes) >= 2:
        kind = suffixes[-2]
    try:
        if path.stat().st_size == 0:
            raise ScalingError(f"{path} is empty (no header, no runs)")
        if kind in (".parquet", ".pq"):
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ScalingError(
                    f"{path}: reading Parquet needs pyarrow (pip install 'scaling[parquet]' "
                    "or pip install pyarrow), or convert the file to CSV"
                ) from None
            df = pd.read_parquet(path)
        elif kind in (".jsonl", ".ndjson"):
            df = pd.read_json(path, lines=True)
        elif kind == ".json":
            try:
                df = pd.read_json(path)
            except ValueError:
                df = pd.read_json(path, lines=True)
        elif kind in (".tsv", ".tab"):
            df = pd.read_csv(path, sep="\t")
        else:
            df = pd.read_csv(path, sep=None, engine="python") if kind not in (".csv", "") else pd.read_csv(path)
    except ScalingError:
        raise
    except pd.errors.EmptyDataError:
        raise ScalingError(f"{path} is empty (no header, no runs)") from None
    except Exception as exc:  # noqa: BLE001 - whatever pandas, csv or json make of a bad file, it is the file's fault
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScalingError(f"{path}: cannot read as a table of runs ({msg})") from None
    df.index = pd.RangeIndex(1, len(df) + 1, name="source_row")
    df.columns = [str(c).strip() for c in df.columns]
    return df


# ------------------------------------------------------------------------------------------------
# column mapping


def find_column(
    df: pd.DataFrame,
    role: str,
    explicit: str | None = None,
    *,
    required: bool = True,
    arg: str | None = None,
    source: str = "runs",
) -> str | None:
    """The source column playing ``role`` (explicit name, else the first alias present)."""
    cols = list(df.columns)
    arg = arg or f"{role}_col"
    if explicit is not None:
        if explicit in cols:
            return explicit
        byn = {_norm(c): c for c in cols}
        # tolerate case/spacing differences ("model size" for "Model Size")
        if _norm(explicit) in byn:
            return byn[_norm(explicit)]
        raise ScalingError(
            f"{source}: {arg}={explicit!r}: no such column{_suggest(explicit, cols)} (available: {_avail(cols)})"
        )
    byn: dict[str, str] = {}
    for c in cols:
        byn.setdefault(_norm(c), c)
    for alias in ALIASES.get(role, (role,)):
        if _norm(alias) in byn:
            return byn[_norm(alias)]
    if role == "loss":
        cands = [c for c in cols if "loss" in c.lower()]
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            raise ScalingError(
                f"{source}: several loss columns ({_avail(cands)}); choose one with {arg}=NAME (--loss-col)"
            )
    if required:
        tried = ", ".join(ALIASES.get(role, (role,))[:6])
        raise ScalingError(
            f"{source}: no {_ROLE_WORDS.get(role, role)} column (looked for {tried}, ...)"
            f"{_suggest(role, cols)}; available: {_avail(cols)}; name it with {arg}=NAME "
            f"(--{arg.replace('_', '-')})"
        )
    return None


# ------------------------------------------------------------------------------------------------
# values


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


# ------------------------------------------------------------------------------------------------
# the loader


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


def params_convention_of(column: str) -> str:
    """ "non_embedding" when the parameter column's name says so (N_no_embed, non_embedding_params)."""
    n = _norm(column)
    return "non_embedding" if ("noembed" in n or "nonembed" in n or "withoutembed" in n) else "total"


def apply_where(df: pd.DataFrame, where: str, source: str = "runs") -> pd.DataFrame:
    """``df.query(where)`` with errors that name the expression and the columns."""
    try:
        res = df.query(where, engine="python")
    except Exception as exc:  # pandas raises many kinds (UndefinedVariableError, SyntaxError, TypeError)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        m = re.search(r"name '([^']+)' is not defined", msg)
        hint = _suggest(m.group(1), list(df.columns)) if m else ""
        raise ScalingError(
            f"{source}: --where {where!r} failed: {msg}{hint} (columns: {_avail(df.columns)}; "
            "quote names with spaces in backticks, e.g. `Model Size` > 1e8)"
        ) from None
    if not isinstance(res, pd.DataFrame):
        raise ScalingError(f"{source}: --where {where!r} is not a filter (it must give true/false per row)")
    return res


# ------------------------------------------------------------------------------------------------
# helpers for fitters


def as_runs(runs: Any, **kw) -> pd.DataFrame:
    """A runs DataFrame from a path, a DataFrame already in canonical form, or a raw DataFrame."""
    if (
        isinstance(runs, pd.DataFrame)
        and all(c in runs.columns for c in ("params", "tokens", "flops", "loss"))
        and not kw
    ):
        return runs
    return load_runs(runs, **kw)


# ------------------------------------------------------------------------------------------------
# training curves


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
        from .units import si

        rid = pd.Series([f"{r}/{si(p)}" if r in multi else r for r, p in zip(rid, params)], index=df.index)
        cols["run_id"] = rcol
    else:
        from .units import si

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


__all__ = [
    "CANONICAL",
    "ALIASES",
    "RunsWarning",
    "load_runs",
    "plausibility",
    "load_curves",
    "read_table",
    "find_column",
    "apply_where",
    "require_sizes",
    "require_columns",
    "as_runs",
    "data_fingerprint",
    "data_info",
    "describe_runs",
    "format_description",
    "group_budgets",
]
