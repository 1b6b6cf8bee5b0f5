"""Held-out comparison of law forms: fit below a threshold, predict the runs above it.

The question a planner cares about is extrapolation: a law fitted on small runs, how wrong is
it about the big ones? ``compare_forms`` splits the runs at a compute (or size) threshold, fits
each method on the runs below it, predicts the loss of the runs at or above it, and reports

- rmse_log_loss: root mean square of log(predicted / observed) on the held-out runs,
- mean_abs_rel_error, max_abs_rel_error: |predicted / observed - 1|,
- mean_rel_error: the signed mean (positive: the law is pessimistic),
- train_rmse_log_loss: the same on the runs it was fitted to.

Methods are names ("approach3", "vp", "kaplan", anything ``scaling.fit.api.fit`` knows) or
callables taking a runs DataFrame and returning a FitResult (or a Law). Only methods whose
law has a loss model can be compared (Approaches 1 and 2 give an allocation only).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..runs import as_runs, require_columns
from ..units import parse_number
from .api import fit as api_fit


def _fitter(method: str | Callable) -> tuple[str, Callable[[pd.DataFrame], Any]]:
    if callable(method):
        return getattr(method, "__name__", "custom"), method
    name = str(method).strip().lower()
    if name in ("approach1", "approach2"):
        raise ScalingError(
            f"compare_forms: {name} gives an allocation, not a loss model; it cannot predict "
            "held-out losses (use approach3, vp or kaplan)"
        )
    return name, lambda runs: api_fit(runs, method=name)  # the dispatcher knows every method and its defaults


def _law_of(result: Any):
    if hasattr(result, "to_law"):
        return result.to_law()
    if hasattr(result, "loss"):
        return result
    raise ScalingError(f"compare_forms: a fitter returned {type(result).__name__}, not a FitResult or a law")


def split_runs(runs: pd.DataFrame, threshold: float | str, by: str = "flops") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test): runs with ``by`` below the threshold, and at or above it."""
    require_columns(runs, [by], "holdout")
    t = parse_number(threshold, "threshold")
    v = np.asarray(runs[by], dtype=float)
    train, test = runs.loc[v < t], runs.loc[v >= t]
    if len(train) == 0:
        raise ScalingError(f"threshold {t:.4g}: no runs below it (smallest {by} is {v.min():.4g})")
    if len(test) == 0:
        raise ScalingError(f"threshold {t:.4g}: no runs at or above it to hold out (largest {by} is {v.max():.4g})")
    return train, test


def _errors(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    lr = np.log(pred) - np.log(obs)
    rel = pred / obs - 1
    return {
        "rmse_log_loss": float(np.sqrt(np.mean(lr**2))),
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "mean_rel_error": float(np.mean(rel)),
    }


def compare_forms(
    runs: Any,
    threshold: float | str,
    methods: Sequence[str | Callable] = ("approach3", "kaplan"),
    *,
    by: str = "flops",
    skip_errors: bool = False,
) -> pd.DataFrame:
    """Fit each method on runs with ``by`` < threshold, score it on the rest; one row per method.

    Columns: method, form, n_train, n_test, threshold, by, rmse_log_loss, mean_abs_rel_error,
    max_abs_rel_error, mean_rel_error, train_rmse_log_loss, converged, flags, error.
    ``result.attrs["predictions"]`` holds the held-out runs with one prediction column per method;
    ``result.attrs["fits"]`` the FitResults.
    skip_errors: a method that fails gets a row with its error instead of raising.
    """
    df = as_runs(runs)
    require_columns(df, ["params", "tokens", "loss"], "compare_forms")
    if not methods:
        raise ScalingError("compare_forms: give at least one method")
    train, test = split_runs(df, threshold, by)
    t = parse_number(threshold, "threshold")
    preds = test[[c for c in ("run_id", "params", "tokens", "flops", "loss") if c in test.columns]].copy()
    rows, fits = [], {}
    for m in methods:
        name = getattr(m, "__name__", "custom") if callable(m) else str(m).strip().lower()
        row: dict[str, Any] = {
            "method": name,
            "form": None,
            "n_train": int(len(train)),
            "n_test": int(len(test)),
            "threshold": t,
            "by": by,
        }
        try:
            name, fn = _fitter(m)
            res = fn(train)
            law = _law_of(res)
            if not getattr(law, "has_loss", True):
                raise ScalingError(f"{name}: the fitted law ({law.form}) has no loss model")
            p_test = np.asarray(law.loss(np.asarray(test["params"], float), np.asarray(test["tokens"], float)), float)
            p_train = np.asarray(
                law.loss(np.asarray(train["params"], float), np.asarray(train["tokens"], float)), float
            )
            row["form"] = law.form
            row.update(_errors(np.atleast_1d(p_test), np.asarray(test["loss"], float)))
            row["train_rmse_log_loss"] = _errors(np.atleast_1d(p_train), np.asarray(train["loss"], float))[
                "rmse_log_loss"
            ]
            row["converged"] = bool(getattr(res, "converged", True))
            row["flags"] = "; ".join(str(f) for f in getattr(res, "flags", None) or [])  # a Flag prints its message
            row["error"] = ""
            preds[f"pred_{name}"] = np.atleast_1d(p_test)
            fits[name] = res
        except ScalingError as exc:
            if not skip_errors:
                raise
            row.update(
                {
                    k: math.nan
                    for k in (
                        "rmse_log_loss",
                        "mean_abs_rel_error",
                        "max_abs_rel_error",
                        "mean_rel_error",
                        "train_rmse_log_loss",
                    )
                }
            )
            row.update({"converged": False, "flags": "", "error": str(exc)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["predictions"] = preds
    out.attrs["fits"] = fits
    return out


def format_comparison(table: pd.DataFrame) -> str:
    """A plain-text table of ``compare_forms``' result."""
    if len(table) == 0:
        return "(no methods)"
    r0 = table.iloc[0]
    head = (
        f"held out: {int(r0['n_test'])} runs with {r0['by']} >= {r0['threshold']:.3g} (fitted on {int(r0['n_train'])})"
    )
    lines = [
        head,
        f"{'method':<12}{'form':<12}{'rmse log L':>12}{'mean |rel|':>12}{'max |rel|':>12}{'bias':>10}"
        f"{'train rmse':>12}",
    ]
    for _, r in table.iterrows():
        if r.get("error"):
            lines.append(f"{r['method']:<12}error: {r['error']}")
            continue
        lines.append(
            f"{r['method']:<12}{str(r['form']):<12}{r['rmse_log_loss']:>12.4f}{r['mean_abs_rel_error']:>12.2%}"
            f"{r['max_abs_rel_error']:>12.2%}{r['mean_rel_error']:>+10.2%}{r['train_rmse_log_loss']:>12.4f}"
        )
    return "\n".join(lines)


__all__ = ["compare_forms", "split_runs", "format_comparison"]
