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

This module imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import ScalingError
from .units import parse_number

CANONICAL = ("run_id", "params", "tokens", "flops", "loss")
OK_STATUS = {"ok", "done", "finished", "complete", "completed", "success", "succeeded", ""}


class RunsWarning(UserWarning):
    """A column was derived (tokens from FLOPs, FLOPs from 6ND) or rows were dropped."""


# Auto-detected source names for each role, in order of preference. Matching ignores case,
# spaces, underscores and hyphens ("Model Size" == "model_size" == "modelsize").
ALIASES: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id", "run", "run_name", "name", "id", "runid"),
    "params": ("params", "N", "num_params", "n_params", "param_count", "parameters", "model_size",
               "nparams", "total_params", "params_total", "N_total", "size", "model_params"),
    "tokens": ("tokens", "D", "num_tokens", "n_tokens", "num_token", "token_num", "train_tokens",
               "training_tokens", "tokens_seen", "total_tokens", "data_size", "dataset_size"),
    "flops": ("flops", "C", "compute", "flops_6ND", "train_flops", "training_flops", "total_flops",
              "budget", "flops_budget"),
    "loss": ("loss", "val_loss", "loss_c4_val", "eval_loss", "validation_loss", "valid_loss", "test_loss",
             "final_loss", "final_val_loss", "train_loss", "L"),
    "unique_tokens": ("unique_tokens", "U", "U_unique", "num_unique_tokens", "unique"),
    "status": ("status", "state", "run_status"),
    "step": ("step", "steps", "iteration", "iter", "global_step"),
    "ppl": ("ppl", "perplexity", "val_ppl", "eval_ppl"),
}
_ROLE_WORDS = {"params": "parameter count", "tokens": "training tokens", "flops": "training FLOPs",
               "loss": "loss", "run_id": "run id", "unique_tokens": "unique tokens", "status": "status",
               "step": "step", "ppl": "perplexity"}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


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
                raise ScalingError(f"{path}: reading Parquet needs pyarrow (pip install 'scaling[parquet]' "
                                   "or pip install pyarrow), or convert the file to CSV") from None
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


def _suggest(name: str, columns: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), list(columns), n=3, cutoff=0.5)
    if not close:
        byn = {_norm(c): c for c in columns}
        close = [byn[c] for c in difflib.get_close_matches(_norm(name), list(byn), n=3, cutoff=0.5)]
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _avail(columns: Sequence[str]) -> str:
    cols = list(columns)
    shown = ", ".join(repr(c) for c in cols[:40])
    return shown + (f", ... ({len(cols)} in all)" if len(cols) > 40 else "")


def find_column(df: pd.DataFrame, role: str, explicit: str | None = None, *, required: bool = True,
                arg: str | None = None, source: str = "runs") -> str | None:
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
        raise ScalingError(f"{source}: {arg}={explicit!r}: no such column{_suggest(explicit, cols)} "
                           f"(available: {_avail(cols)})")
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
            raise ScalingError(f"{source}: several loss columns ({_avail(cands)}); choose one with "
                               f"{arg}=NAME (--loss-col)")
    if required:
        tried = ", ".join(ALIASES.get(role, (role,))[:6])
        raise ScalingError(f"{source}: no {_ROLE_WORDS.get(role, role)} column (looked for {tried}, ...)"
                           f"{_suggest(role, cols)}; available: {_avail(cols)}; name it with {arg}=NAME "
                           f"(--{arg.replace('_', '-')})")
    return None


# ------------------------------------------------------------------------------------------------
# values


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
            raise ScalingError(f"{_row_ref(row, source, file_based)}: {role} ({col!r}) = {v!r} is not a number "
                               "(use e.g. 1.3e9, 2.8B, 125M)") from None
    return pd.Series(out, index=s.index, name=col)


def _check_positive(df: pd.DataFrame, col: str, role: str, source: str, file_based: bool,
                    allow_zero: bool = False) -> None:
    v = df[col].to_numpy(dtype=float)
    bad = ~np.isfinite(v) | ((v < 0) if allow_zero else (v <= 0))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    row = df.index[i]
    x = v[i]
    what = ("NaN (empty or missing)" if np.isnan(x) else "infinite" if np.isinf(x)
            else f"{x:g}; it must be {'non-negative' if allow_zero else 'positive'}")
    more = f" ({int(bad.sum()) - 1} more such rows)" if bad.sum() > 1 else ""
    src = f" (column {col!r})" if col != role else ""
    raise ScalingError(f"{_row_ref(int(row), source, file_based)}: {role}{src} is {what}{more}")


def _maybe_log10(values: pd.Series, role: str, col: str, log10: bool | None, source: str) -> pd.Series:
    """Undo a log10 column (tokens 9.3 means 2e9 tokens); auto-detected when every value is below 40."""
    v = values.to_numpy(dtype=float)
    finite = v[np.isfinite(v)]
    if log10 is None:
        log10 = bool(finite.size and role in ("tokens", "flops") and np.all(finite < 40) and np.all(finite > 0)
                     and np.max(finite) > 3)
        if log10:
            warnings.warn(f"{source}: column {col!r} ({role}) holds values {finite.min():.3g}..{finite.max():.3g}, "
                          f"read as log10 ({role} = 10**{col})", RunsWarning, stacklevel=3)
    if log10:
        return pd.Series(10.0 ** v, index=values.index, name=values.name)
    return values


# ------------------------------------------------------------------------------------------------
# the loader


def load_runs(source: str | Path | pd.DataFrame, *, params_col: str | None = None, tokens_col: str | None = None,
              flops_col: str | None = None, loss_col: str | None = None, run_id_col: str | None = None,
              unique_tokens_col: str | None = None, status_col: str | None = None, where: str | None = None,
              min_flops: float | str | None = None, max_flops: float | str | None = None,
              drop_failed: bool = True, flops_convention: str = "6nd", log10: Iterable[str] | None = None,
              min_runs: int = 2) -> pd.DataFrame:
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
            raise ScalingError(f"{src}: no tokens column, and tokens cannot be derived from FLOPs under the "
                               f"{flops_convention!r} convention; pass tokens_col=NAME")
        tokens = out["flops"] / (6.0 * out["params"])
        out.insert(out.columns.get_loc("flops"), "tokens", tokens)
        note = f"no tokens column: tokens derived from FLOPs as D = C / (6 N) (column {cols['flops']!r})"
        notes.append(note)
        warnings.warn(f"{src}: {note}", RunsWarning, stacklevel=2)
    if "flops" not in out.columns:
        if flops_convention != "6nd":
            raise ScalingError(f"{src}: no FLOPs column, and FLOPs cannot be derived under the "
                               f"{flops_convention!r} convention; pass flops_col=NAME")
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
        raise ScalingError(f"{src}: no runs left after filters ({'; '.join(filters) or 'none'}); "
                           f"{len(raw)} rows before filtering")

    _check_duplicates(out, cols, src, file_based)

    if len(out) < min_runs:
        rows = ", ".join(map(str, out.index[:3]))
        raise ScalingError(f"{src}: only {len(out)} run{'s' if len(out) != 1 else ''} (row {rows}) "
                           f"{'after filters ' if filters else ''}; a fit needs at least {min_runs}")

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


# ------------------------------------------------------------------------------------------------
# plausibility: tables that load but are probably not what the user meant

PARAMS_MIN = 1e3        # fewer parameters than this: a column in millions or billions
TOKENS_MIN = 1e3
TOKENS_PER_PARAM_MAX = 1e5
FLOPS_FACTOR = 1.5      # FLOPs this far from 6ND: another convention, a nominal budget, or wrong units
SEED_NOISE = 0.01       # log-loss spread seed-to-seed variation stays within (about 1%)


def plausibility(df: pd.DataFrame, cols: dict[str, str] | None = None, *, flops_convention: str = "6nd",
                 source: str = "runs", file_based: bool = False) -> list[str]:
    """Warnings (one line each) about a runs table that loads but is probably not what was meant:

    - parameters below 1,000, tokens below 1,000, or more than 1e5 tokens per parameter (a column
      in millions or billions: such tables used to fit "converged, flags: none");
    - a FLOPs column more than 1.5x from 6ND (when the table states the 6ND convention; 10x for
      another convention, whose extra terms this table cannot count);
    - repeated (N, D) pairs whose losses differ by more than seed noise while another column
      varies (several data sets or settings mixed); the column is named.

    ``cols``: role -> source column (``df.attrs["scaling"]["columns"]`` by default).
    """
    if len(df) == 0 or not {"params", "tokens", "loss"} <= set(df.columns):
        return []
    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    cols = dict(cols if cols is not None else meta.get("columns", {}))
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    out: list[str] = []

    def where(mask: np.ndarray) -> str:
        k = int(mask.sum())
        i = int(np.flatnonzero(mask)[0])
        ref = _row_ref(int(df.index[i]), source, file_based).removeprefix(f"{source} ")
        return f"in {k} of {len(df)} run{'s' if len(df) != 1 else ''} (e.g. {ref}: params {N[i]:.4g}, tokens {D[i]:.4g})"

    pcol, tcol = cols.get("params", "params"), cols.get("tokens", "tokens")
    small_n = N < PARAMS_MIN
    if small_n.any():
        out.append(f"params ({pcol!r}) below {PARAMS_MIN:,.0f} {where(small_n)}: is the column in millions or "
                   "billions? give parameter counts (125M or 1.25e8)")
    if "tokens" in cols:
        small_d = D < TOKENS_MIN
        if small_d.any():
            out.append(f"tokens ({tcol!r}) below {TOKENS_MIN:,.0f} {where(small_d)}: is the column in millions or "
                       "billions? give token counts (2.5B or 2.5e9)")
    tpp = D / N
    many = tpp > TOKENS_PER_PARAM_MAX
    if many.any() and not small_n.any():
        out.append(f"more than {TOKENS_PER_PARAM_MAX:.0e} tokens per parameter (up to {tpp.max():.3g}) {where(many)}: "
                   f"are params ({pcol!r}) in millions, or tokens ({tcol!r}) in a smaller unit than tokens?")
    if "flops" in cols and "tokens" in cols and "flops" in df.columns:
        # a sparse run counts the FLOPs of its non-zero weights; a run may name its own convention
        Neff = N
        if "nonzero_params" in df.columns:
            nz = pd.to_numeric(df["nonzero_params"], errors="coerce").to_numpy(dtype=float)
            Neff = np.where(np.isfinite(nz) & (nz > 0), nz, N)
        elif "sparsity" in df.columns:
            sp = pd.to_numeric(df["sparsity"], errors="coerce").to_numpy(dtype=float)
            Neff = np.where(np.isfinite(sp) & (sp >= 0) & (sp < 1), N * (1 - sp), N)
        conv = (df["flops_convention"].astype(str).str.strip().str.lower().to_numpy()
                if "flops_convention" in df.columns else np.full(len(df), str(flops_convention).lower()))
        ratio = np.asarray(df["flops"], dtype=float) / (6.0 * Neff * D)
        f = np.where(conv == "6nd", FLOPS_FACTOR, 10.0)   # other conventions add terms this table cannot count
        off = (ratio > f) | (ratio < 1.0 / f)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            out.append(f"FLOPs ({cols['flops']!r}) are more than {f[i]:g}x from 6ND {where(off)} (FLOPs / 6ND from "
                       f"{ratio.min():.3g} to {ratio.max():.3g}; convention {conv[i]!r}): another convention, "
                       "a nominal budget, or params or tokens in other units?")
    mixed = _mixed_columns(df, cols)
    if mixed:
        out.append(mixed)
    return out


def _mixed_columns(df: pd.DataFrame, cols: dict[str, str]) -> str | None:
    """The repeated-(N, D) check of ``plausibility``: a message, or None."""
    # unique tokens and sparsity are variables of the data-constrained and sparsity laws: runs
    # that differ in them are not mixed
    keys = ["params", "tokens"] + [k for k in ("unique_tokens", "sparsity") if k in df.columns]
    try:
        grp = df.groupby(keys, sort=False)
    except (TypeError, ValueError):   # pragma: no cover - numeric by now
        return None
    size = grp["loss"].transform("size").to_numpy()
    if not (size > 1).any():
        return None
    logl = np.log(np.asarray(df["loss"], dtype=float))
    rep = df.loc[size > 1]
    lg = pd.Series(logl[size > 1], index=rep.index)
    g = rep.groupby(keys, sort=False)
    spread = (lg.groupby([rep[k] for k in keys], sort=False).max()
              - lg.groupby([rep[k] for k in keys], sort=False).min())
    mapped = set(cols.values()) | set(CANONICAL) | {"unique_tokens", "sparsity", "nonzero_params", "source_row"}
    cands = []
    for c in rep.columns:
        if c in mapped or "seed" in _norm(c):
            continue
        try:
            n_all = df[c].nunique(dropna=False)
        except TypeError:   # unhashable cells (lists from JSON)
            continue
        if n_all < 2 or n_all >= len(df):   # constant, or a name / id of every run
            continue
        varies = (g[c].nunique(dropna=False) > 1)
        varies = varies.reindex(spread.index, fill_value=False)
        if varies.any() and float(np.median(spread[varies.to_numpy()])) > SEED_NOISE:
            cands.append((int(varies.sum()), c, spread[varies.to_numpy()]))
    if not cands:
        return None
    # most repeated pairs first; on a tie a column named for data (dataset, data, corpus) first
    cands.sort(key=lambda t: (-t[0], not any(w in _norm(t[1]) for w in ("data", "corpus"))))
    k, c, sp = cands[0]
    others = [o for n, o, _ in cands[1:] if n == k][:2]
    vals = sorted(map(str, df[c].dropna().unique()))[:4]
    shown = ", ".join(vals) + (", ..." if df[c].nunique() > 4 else "")
    also = f" (and {', '.join(repr(o) for o in others)})" if others else ""
    first = vals[0].replace("'", "\\'")
    return (f"{k} repeated (params, tokens) pairs have losses that differ by more than seed noise (median "
            f"{np.expm1(float(np.median(sp))):.1%}, up to {np.expm1(float(sp.max())):.1%}) while column {c!r}{also} "
            f"varies ({shown}): several data sets or settings mixed? filter one, e.g. --where \"{c} == '{first}'\"")


def params_convention_of(column: str) -> str:
    """"non_embedding" when the parameter column's name says so (N_no_embed, non_embedding_params)."""
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
        raise ScalingError(f"{source}: --where {where!r} failed: {msg}{hint} (columns: {_avail(df.columns)}; "
                           "quote names with spaces in backticks, e.g. `Model Size` > 1e8)") from None
    if not isinstance(res, pd.DataFrame):
        raise ScalingError(f"{source}: --where {where!r} is not a filter (it must give true/false per row)")
    return res


def _check_duplicates(df: pd.DataFrame, cols: dict[str, str], source: str, file_based: bool) -> None:
    if "run_id" in cols:
        d = df["run_id"].duplicated(keep=False)
        if d.any():
            rid = df.loc[d.to_numpy(), "run_id"].iloc[0]
            rows = list(df.index[(df["run_id"] == rid).to_numpy()])
            where = "rows " + ", ".join(map(str, rows[:5]))
            raise ScalingError(f"{source}: duplicated run: run_id {rid!r} ({cols['run_id']!r}) appears at {where}"
                               f"{' (1-based data rows, header not counted)' if file_based else ''}; "
                               "a runs table has one row per run (training curves: use load_curves)")
    # an exact copy of a whole row is a copy-paste error; equal (params, tokens) with different
    # seeds or losses are replicates and are kept
    src_cols = [c for c in df.columns if c not in CANONICAL or c in cols.values()]
    try:
        d = df.duplicated(subset=src_cols, keep="first")
    except TypeError:  # unhashable cells (lists from JSON): compare their text
        d = df[src_cols].astype(str).duplicated(keep="first")
    if d.any():
        row = int(df.index[d.to_numpy()][0])
        key = df.loc[[row], src_cols]
        same = df[src_cols].eq(key.iloc[0]) | (df[src_cols].isna() & key.isna().to_numpy())
        firsts = [int(r) for r in df.index[same.all(axis=1).to_numpy()] if r != row]
        other = f" duplicates row {firsts[0]}" if firsts else " is a duplicate"
        raise ScalingError(f"{_row_ref(row, source, file_based)}{other} exactly (duplicated run); "
                           "remove one, or give replicates a seed or run_id column")


# ------------------------------------------------------------------------------------------------
# helpers for fitters


def require_sizes(df: pd.DataFrame, k: int = 2, what: str = "this fit", col: str = "params") -> int:
    """Raise unless the runs span at least ``k`` distinct model sizes; return the number of sizes."""
    sizes = np.unique(np.asarray(df[col], dtype=float))
    if len(sizes) < k:
        if len(sizes) == 1:
            raise ScalingError(f"all {len(df)} runs have the same size ({col} = {sizes[0]:.4g}); {what} needs "
                               f"runs at {k} or more model sizes")
        raise ScalingError(f"the runs span only {len(sizes)} model sizes; {what} needs at least {k}")
    return len(sizes)


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "runs") -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ScalingError(f"{what}: missing column(s) {', '.join(map(repr, missing))}"
                           f"{_suggest(missing[0], list(df.columns))} (available: {_avail(df.columns)})")


def as_runs(runs: Any, **kw) -> pd.DataFrame:
    """A runs DataFrame from a path, a DataFrame already in canonical form, or a raw DataFrame."""
    if isinstance(runs, pd.DataFrame) and all(c in runs.columns for c in ("params", "tokens", "flops", "loss")) \
            and not kw:
        return runs
    return load_runs(runs, **kw)


def data_fingerprint(df: pd.DataFrame, cols: Sequence[str] = ("params", "tokens", "loss")) -> str:
    """sha256 of the values of ``cols`` (float64), independent of row order.

    Two tables with the same runs in a different order share a fingerprint; a changed value,
    an added or a removed run change it.
    """
    require_columns(df, cols, "fingerprint")
    arr = np.column_stack([np.asarray(df[c], dtype=float) for c in cols]) if len(df) else np.zeros((0, len(cols)))
    arr = arr + 0.0  # -0.0 -> 0.0
    order = np.lexsort(arr.T[::-1]) if len(arr) else np.arange(0)
    h = hashlib.sha256()
    h.update((",".join(cols) + f";{len(arr)};").encode())
    h.update(np.ascontiguousarray(arr[order], dtype="<f8").tobytes())
    return h.hexdigest()


def data_info(df: pd.DataFrame, cols: Sequence[str] = ("params", "tokens", "loss"),
              extra_filters: Sequence[str] = ()) -> dict[str, Any]:
    """The fields of ``scaling.fit.DataInfo`` for a runs table: ``DataInfo(**data_info(runs))``."""
    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    fl = np.asarray(df["flops"], dtype=float) if "flops" in df.columns and len(df) else None
    return {
        "fingerprint": data_fingerprint(df, cols),
        "n_rows": int(len(df)),
        "source": str(meta.get("source", "")),
        "columns": {str(k): str(v) for k, v in meta.get("columns", {}).items()},
        "filters": list(meta.get("filters", [])) + list(extra_filters),
        "flops_range": (float(np.min(fl)), float(np.max(fl))) if fl is not None else None,
    }


def describe_runs(df: pd.DataFrame) -> dict[str, Any]:
    """Counts and ranges of a runs table (sizes, budgets, tokens per parameter, losses)."""
    out: dict[str, Any] = {"n_runs": int(len(df))}
    if "run_id" in df.columns:
        out["n_run_ids"] = int(df["run_id"].nunique())
    for c in ("params", "tokens", "flops", "loss"):
        if c in df.columns and len(df):
            v = np.asarray(df[c], dtype=float)
            out[c] = {"min": float(np.min(v)), "max": float(np.max(v)), "n_distinct": int(len(np.unique(v)))}
    if "params" in df.columns:
        out["n_sizes"] = int(np.unique(np.asarray(df["params"], dtype=float)).size)
    if "flops" in df.columns and len(df):
        out["n_budgets"] = int(len(group_budgets(np.asarray(df["flops"], dtype=float))[1]))
    if {"params", "tokens"} <= set(df.columns) and len(df):
        tpp = np.asarray(df["tokens"], dtype=float) / np.asarray(df["params"], dtype=float)
        out["tokens_per_param"] = {"min": float(tpp.min()), "median": float(np.median(tpp)), "max": float(tpp.max())}
    meta = df.attrs.get("scaling", {})
    if meta:
        out["source"] = meta.get("source")
        out["filters"] = meta.get("filters", [])
        out["notes"] = meta.get("notes", [])
    return out


def format_description(desc: dict[str, Any]) -> str:
    """A few lines of text for ``describe_runs``' result."""
    lines = [f"{desc['n_runs']} runs" + (f" from {desc['source']}" if desc.get("source") else "")]
    for c in ("params", "tokens", "flops", "loss"):
        if c in desc:
            r = desc[c]
            lines.append(f"  {c:<7} {r['min']:.4g} .. {r['max']:.4g} ({r['n_distinct']} distinct)")
    if "tokens_per_param" in desc:
        t = desc["tokens_per_param"]
        lines.append(f"  tokens/param {t['min']:.3g} .. {t['max']:.3g} (median {t['median']:.3g})")
    if "n_budgets" in desc:
        lines.append(f"  {desc.get('n_sizes', '?')} sizes, {desc['n_budgets']} FLOP budgets")
    for n in desc.get("notes", []) or []:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def group_budgets(flops: np.ndarray, tol: float = 0.05) -> tuple[np.ndarray, list[np.ndarray]]:
    """Group FLOP values into budgets: sorted values closer than a factor (1 + tol) join a group.

    Returns (budget of each group = geometric mean, list of index arrays into ``flops``).
    """
    flops = np.asarray(flops, dtype=float)
    if flops.size == 0:
        return np.zeros(0), []
    order = np.argsort(flops, kind="stable")
    lf = np.log(flops[order])
    breaks = np.flatnonzero(np.diff(lf) > math.log1p(tol)) + 1
    groups = np.split(order, breaks)
    centres = np.array([math.exp(float(np.mean(np.log(flops[g])))) for g in groups])
    return centres, groups


# ------------------------------------------------------------------------------------------------
# training curves


def load_curves(source: str | Path | pd.DataFrame, *, run_id_col: str | None = None, params_col: str | None = None,
                tokens_col: str | None = None, step_col: str | None = None, tokens_per_step: float | None = None,
                flops_col: str | None = None, loss_col: str | None = None, ppl_col: str | None = None,
                where: str | None = None, log10: Iterable[str] | None = None, flops_convention: str = "6nd",
                drop_failed: bool = True) -> pd.DataFrame:
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
            hint = (f"; found step column {stcol!r}: pass tokens_per_step (batch size x context)" if stcol
                    else f"; available: {_avail(raw.columns)}")
            raise ScalingError(f"{src}: training curves need a tokens column (or FLOPs, or steps with "
                               f"tokens_per_step){hint}")
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
        out["tokens"] = _maybe_log10(_to_float(df, tcol, "tokens", src, file_based), "tokens", tcol,
                                     ("tokens" in logs) if logs is not None else None, src)
    elif "step" in cols:
        out["tokens"] = _to_float(df, stcol, "step", src, file_based) * float(tokens_per_step)
        notes.append(f"tokens = {stcol} x {tokens_per_step:g}")
    if "flops" in cols:
        out["flops"] = _maybe_log10(_to_float(df, fcol, "flops", src, file_based), "flops", fcol,
                                    ("flops" in logs) if logs is not None else None, src)
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
        raise ScalingError(f"{src}: rows {rows[0]} and {rows[1]} are two evaluations of run "
                           f"{out.loc[rows[0], 'run_id']!r} at the same token count")
    out = out.sort_values(["run_id", "tokens"], kind="stable")
    out.attrs["scaling"] = {"source": src, "columns": cols, "filters": [f"where: {where}"] if where else [],
                            "notes": notes, "flops_convention": flops_convention,
                            "params_convention": params_convention_of(cols["params"]), "n_source_rows": int(len(raw))}
    return out


__all__ = ["CANONICAL", "ALIASES", "RunsWarning", "load_runs", "plausibility", "load_curves", "read_table", "find_column",
           "apply_where", "require_sizes", "require_columns", "as_runs", "data_fingerprint", "data_info",
           "describe_runs", "format_description", "group_budgets"]
