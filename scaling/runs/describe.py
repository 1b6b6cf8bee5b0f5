"""Describing runs tables.

Fingerprints, the ``DataInfo`` fields of a fit, counts and ranges, and FLOP-budget grouping.

This module imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .checks import require_columns


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


def data_info(
    df: pd.DataFrame, cols: Sequence[str] = ("params", "tokens", "loss"), extra_filters: Sequence[str] = ()
) -> dict[str, Any]:
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


# What a fit records of the runs' architecture (``scaling.fit.FitArchitecture``): field -> the runs
# table's columns it is read from, in order of preference (``scaling.store.collect`` writes the first).
ARCHITECTURE_COLUMNS: dict[str, tuple[str, ...]] = {
    "mixer": ("mixer",),
    "context": ("context", "n_ctx", "context_length", "seq_len"),
    "vocab": ("vocab", "vocab_size", "n_vocab"),
    "sparsity": ("sparsity",),
    "flops_convention": ("flops_convention",),
}


def _architecture_value(field: str, value: Any) -> Any:
    """One cell of an architecture column as the fit records it; None when missing or unreadable."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if field in ("mixer", "flops_convention"):
        text = str(value).strip().lower()
        return text or None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    if field == "sparsity":
        return v if 0.0 <= v < 1.0 else None
    return int(v) if math.isfinite(v) and v >= 1 and v == int(v) else None


def architecture_info(df: pd.DataFrame) -> dict[str, Any]:
    """The fields of ``scaling.fit.FitArchitecture`` for a runs table: the mixer, context, vocabulary,
    sparsity and FLOP convention its runs were trained and counted with, read from the columns a
    sweep's configs put in the table (:data:`ARCHITECTURE_COLUMNS`).

    A field is None when the table has no such column (the runs do not say). When the runs disagree
    the field is None and ``mixed[field]`` lists the distinct values (None among them for runs
    without a value), so a fit over mixed architectures says so instead of naming one of them.
    """
    out: dict[str, Any] = {}
    mixed: dict[str, list[Any]] = {}
    for name, candidates in ARCHITECTURE_COLUMNS.items():
        col = next((c for c in candidates if c in df.columns), None)
        out[name] = None
        if col is None or not len(df):
            continue
        values = [_architecture_value(name, v) for v in df[col].tolist()]
        distinct = sorted(set(values), key=lambda v: (v is None, str(v) if isinstance(v, str) else v))
        if len(distinct) == 1:
            out[name] = distinct[0]
        elif distinct:
            mixed[name] = distinct
    out["mixed"] = mixed
    return out


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
