"""Validation of runs tables: the plausibility warnings (tables that load but are probably not
what the user meant), the duplicated-run check, and the column and size requirements of fitters.

This module imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ScalingError
from .columns import CANONICAL, _avail, _norm, _suggest
from .values import _row_ref

# ------------------------------------------------------------------------------------------------
# plausibility: tables that load but are probably not what the user meant

PARAMS_MIN = 1e3  # fewer parameters than this: a column in millions or billions
TOKENS_MIN = 1e3
TOKENS_PER_PARAM_MAX = 1e5
FLOPS_FACTOR = 1.5  # FLOPs this far from 6ND: another convention, a nominal budget, or wrong units
SEED_NOISE = 0.01  # log-loss spread seed-to-seed variation stays within (about 1%)


def plausibility(
    df: pd.DataFrame,
    cols: dict[str, str] | None = None,
    *,
    flops_convention: str = "6nd",
    source: str = "runs",
    file_based: bool = False,
) -> list[str]:
    """Warnings (one line each) about a runs table that loads but is probably not what was meant:

    - parameters below 1,000, tokens below 1,000, or more than 1e5 tokens per parameter (a column
      in millions or billions: such tables used to fit "converged, flags: none");
    - a FLOPs column more than 1.5x from 6ND (when the table states the 6ND convention; 10x for
      another convention, whose extra terms this table cannot count);
    - repeated (N, D) pairs whose losses differ by more than seed noise while another column
      varies (several data sets or settings mixed); the column is named;
    - runs of one corpus with different ``corpus_fingerprint`` values (the corpus was fetched
      again and its texts changed in between: Debian updates its documentation packages).

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
        return (
            f"in {k} of {len(df)} run{'s' if len(df) != 1 else ''} (e.g. {ref}: params {N[i]:.4g}, tokens {D[i]:.4g})"
        )

    pcol, tcol = cols.get("params", "params"), cols.get("tokens", "tokens")
    small_n = N < PARAMS_MIN
    if small_n.any():
        out.append(
            f"params ({pcol!r}) below {PARAMS_MIN:,.0f} {where(small_n)}: is the column in millions or "
            "billions? give parameter counts (125M or 1.25e8)"
        )
    if "tokens" in cols:
        small_d = D < TOKENS_MIN
        if small_d.any():
            out.append(
                f"tokens ({tcol!r}) below {TOKENS_MIN:,.0f} {where(small_d)}: is the column in millions or "
                "billions? give token counts (2.5B or 2.5e9)"
            )
    tpp = D / N
    many = tpp > TOKENS_PER_PARAM_MAX
    if many.any() and not small_n.any():
        out.append(
            f"more than {TOKENS_PER_PARAM_MAX:.0e} tokens per parameter (up to {tpp.max():.3g}) {where(many)}: "
            f"are params ({pcol!r}) in millions, or tokens ({tcol!r}) in a smaller unit than tokens?"
        )
    if "flops" in cols and "tokens" in cols and "flops" in df.columns:
        # a sparse run counts the FLOPs of its non-zero weights; a run may name its own convention
        Neff = N
        if "nonzero_params" in df.columns:
            nz = pd.to_numeric(df["nonzero_params"], errors="coerce").to_numpy(dtype=float)
            Neff = np.where(np.isfinite(nz) & (nz > 0), nz, N)
        elif "sparsity" in df.columns:
            sp = pd.to_numeric(df["sparsity"], errors="coerce").to_numpy(dtype=float)
            Neff = np.where(np.isfinite(sp) & (sp >= 0) & (sp < 1), N * (1 - sp), N)
        conv = (
            df["flops_convention"].astype(str).str.strip().str.lower().to_numpy()
            if "flops_convention" in df.columns
            else np.full(len(df), str(flops_convention).lower())
        )
        ratio = np.asarray(df["flops"], dtype=float) / (6.0 * Neff * D)
        f = np.where(conv == "6nd", FLOPS_FACTOR, 10.0)  # other conventions add terms this table cannot count
        off = (ratio > f) | (ratio < 1.0 / f)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            out.append(
                f"FLOPs ({cols['flops']!r}) are more than {f[i]:g}x from 6ND {where(off)} (FLOPs / 6ND from "
                f"{ratio.min():.3g} to {ratio.max():.3g}; convention {conv[i]!r}): another convention, "
                "a nominal budget, or params or tokens in other units?"
            )
    mixed = _mixed_columns(df, cols)
    if mixed:
        out.append(mixed)
    versions = _corpus_versions(df)
    if versions:
        out.append(versions)
    return out


def _corpus_versions(df: pd.DataFrame) -> str | None:
    """Runs of one corpus read from texts with different fingerprints: a message, or None."""
    if "corpus_fingerprint" not in df.columns:
        return None
    fp = df["corpus_fingerprint"].astype("string").str.strip()
    corpus = df["corpus"].astype("string").fillna("?") if "corpus" in df.columns else pd.Series("?", index=df.index)
    known = fp.notna() & (fp != "") & (fp.str.lower() != "nan")
    for name, group in fp[known].groupby(corpus[known], sort=True):
        counts = group.value_counts()
        if len(counts) < 2:
            continue
        parts = ", ".join(f"{str(v).removeprefix('sha256:')[:12]} in {n}" for v, n in counts.items())
        first = str(counts.index[0])
        what = f"corpus {name!r}" if name != "?" else "the corpus"
        return (
            f"runs of {what} were trained on {len(counts)} versions of its text (corpus_fingerprint "
            f"{parts} runs): it was fetched again and changed in between; compare them knowing that, or "
            f"filter one, e.g. --where \"corpus_fingerprint == '{first}'\""
        )
    return None


def _mixed_columns(df: pd.DataFrame, cols: dict[str, str]) -> str | None:
    """The repeated-(N, D) check of ``plausibility``: a message, or None."""
    # unique tokens and sparsity are variables of the data-constrained and sparsity laws: runs
    # that differ in them are not mixed
    keys = ["params", "tokens"] + [k for k in ("unique_tokens", "sparsity") if k in df.columns]
    try:
        grp = df.groupby(keys, sort=False)
    except (TypeError, ValueError):  # pragma: no cover - numeric by now
        return None
    size = grp["loss"].transform("size").to_numpy()
    if not (size > 1).any():
        return None
    logl = np.log(np.asarray(df["loss"], dtype=float))
    rep = df.loc[size > 1]
    lg = pd.Series(logl[size > 1], index=rep.index)
    g = rep.groupby(keys, sort=False)
    spread = lg.groupby([rep[k] for k in keys], sort=False).max() - lg.groupby([rep[k] for k in keys], sort=False).min()
    mapped = set(cols.values()) | set(CANONICAL) | {"unique_tokens", "sparsity", "nonzero_params", "source_row"}
    seed_cols = [c for c in rep.columns if "seed" in _norm(c) and rep[c].notna().any()]
    cands = []
    for c in rep.columns:
        if c in mapped or "seed" in _norm(c):
            continue
        try:
            n_all = df[c].nunique(dropna=False)
        except TypeError:  # unhashable cells (lists from JSON)
            continue
        if n_all < 2 or n_all >= len(df):  # constant, or a name / id of every run
            continue
        varies = g[c].nunique(dropna=False) > 1
        if seed_cols:
            # a column that changes with the seed and only with it (a trunk named per seed, a data
            # order drawn from the seed) marks seed replicates, which differ by seed noise by design
            per_seed = rep.groupby(keys + seed_cols, sort=False, dropna=False)[c].nunique(dropna=False)
            if len(per_seed) and bool((per_seed <= 1).all()):
                continue
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
    return (
        f"{k} repeated (params, tokens) pairs have losses that differ by more than seed noise (median "
        f"{np.expm1(float(np.median(sp))):.1%}, up to {np.expm1(float(sp.max())):.1%}) while column {c!r}{also} "
        f"varies ({shown}): several data sets or settings mixed? filter one, e.g. --where \"{c} == '{first}'\""
    )


# ------------------------------------------------------------------------------------------------
# duplicated runs


def _check_duplicates(df: pd.DataFrame, cols: dict[str, str], source: str, file_based: bool) -> None:
    if "run_id" in cols:
        d = df["run_id"].duplicated(keep=False)
        if d.any():
            rid = df.loc[d.to_numpy(), "run_id"].iloc[0]
            rows = list(df.index[(df["run_id"] == rid).to_numpy()])
            where = "rows " + ", ".join(map(str, rows[:5]))
            raise ScalingError(
                f"{source}: duplicated run: run_id {rid!r} ({cols['run_id']!r}) appears at {where}"
                f"{' (1-based data rows, header not counted)' if file_based else ''}; "
                "a runs table has one row per run (training curves: use load_curves)"
            )
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
        raise ScalingError(
            f"{_row_ref(row, source, file_based)}{other} exactly (duplicated run); "
            "remove one, or give replicates a seed or run_id column"
        )


# ------------------------------------------------------------------------------------------------
# helpers for fitters


def require_sizes(df: pd.DataFrame, k: int = 2, what: str = "this fit", col: str = "params") -> int:
    """Raise unless the runs span at least ``k`` distinct model sizes; return the number of sizes."""
    sizes = np.unique(np.asarray(df[col], dtype=float))
    if len(sizes) < k:
        if len(sizes) == 1:
            raise ScalingError(
                f"all {len(df)} runs have the same size ({col} = {sizes[0]:.4g}); {what} needs "
                f"runs at {k} or more model sizes"
            )
        raise ScalingError(f"the runs span only {len(sizes)} model sizes; {what} needs at least {k}")
    return len(sizes)


def require_columns(df: pd.DataFrame, columns: Sequence[str], what: str = "runs") -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ScalingError(
            f"{what}: missing column(s) {', '.join(map(repr, missing))}"
            f"{_suggest(missing[0], list(df.columns))} (available: {_avail(df.columns)})"
        )
