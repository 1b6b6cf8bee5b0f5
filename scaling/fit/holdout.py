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

``score_runs`` scores runs a saved fit did not use (held out, or left out by its filter) against
it, fitting nothing: per run the residual ln(loss / predicted), the unit of the fit's own RMSE of
log loss, and their mean, RMSE, range and how many lie below and above the surface
(``scaling fit --score FIT.json RUNS.csv``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ..errors import ScalingError
from ..runs import as_runs, load_runs, require_columns
from ..units import parse_number, si
from .api import RUNS_LOADER_OPTIONS
from .api import fit as api_fit
from .residual_groups import ResidualGroups, group_residuals
from .result import FitResult


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


# ------------------------------------------------------------------------------------------------
# scoring runs against a saved fit


class ScoredRun(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    run_id: str
    params: float
    tokens: float
    loss: float
    predicted: float
    residual: float  # ln(loss / predicted): negative below the surface


class RunScores(BaseModel):
    """Runs scored against a fit: per run the residual ln(loss / predicted) (the unit of the fit's
    RMSE of log loss; negative: the run ends below what the surface predicts), and their summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    fit: str  # the fit file (or "fit" for a FitResult given directly)
    method: str
    fit_runs: int  # runs the fit was fitted on
    fit_rmse_log_loss: float | None  # the fit's own RMSE over them
    fit_seed_noise: float | None = None  # the seed noise of its runs' replicates, when it measured one
    fit_averaged: bool = False  # whether the fit's rows were means of replicates (points, not runs)
    source: str
    filters: list[str]
    runs: list[ScoredRun]
    n: int
    mean_residual: float
    rmse: float
    min_residual: float
    max_residual: float
    n_below: int
    n_above: int
    groups: ResidualGroups | None = None  # the residuals by a column (``by``), when asked

    def summary(self) -> str:
        """The scored runs as a table, then one summary line (what ``scaling fit --score`` prints)."""
        w = max([len("run_id")] + [len(r.run_id) for r in self.runs])
        lines = [f"{'run_id':>{w}}  {'params':>8}  {'tokens':>8}  {'loss':>7}  {'predicted':>9}  {'residual':>9}"]
        for r in self.runs:
            lines.append(
                f"{r.run_id:>{w}}  {si(r.params):>8}  {si(r.tokens):>8}  {r.loss:>7.4f}  {r.predicted:>9.4f}"
                f"  {100 * r.residual:>+8.2f}%"
            )
        lo = min(self.runs, key=lambda r: r.residual)
        hi = max(self.runs, key=lambda r: r.residual)
        own = (
            f", its own RMSE {100 * self.fit_rmse_log_loss:.2f}%"
            if self.fit_rmse_log_loss is not None and math.isfinite(self.fit_rmse_log_loss)
            else ""
        )
        if self.fit_seed_noise is not None:
            own += f", seed noise {100 * self.fit_seed_noise:.2f}%"
        lines.append(
            f"{self.n} run{'s' if self.n != 1 else ''} of {self.source}"
            + (f" ({'; '.join(self.filters)})" if self.filters else "")
            + f" scored against {self.fit} ({self.method}, fitted on {self.fit_runs} "
            + ("points, means of replicates" if self.fit_averaged else "runs")
            + f"{own})"
        )
        lines.append(
            f"residual ln(loss / predicted): mean {100 * self.mean_residual:+.2f}%, RMSE {100 * self.rmse:.2f}%, "
            f"from {100 * self.min_residual:+.2f}% ({lo.run_id}) to {100 * self.max_residual:+.2f}% ({hi.run_id}); "
            f"{self.n_below} below the prediction, {self.n_above} above"
        )
        if self.groups is not None:
            lines += ["", self.groups.summary()]
        return "\n".join(lines)


def _law_inputs(result: FitResult, runs: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """The columns the fit's law takes per run: (N, D), and the unique tokens of a data-constrained
    fit or the sparsity of a sparsity fit (N from the column that fit used)."""
    if result.method == "datacon":
        require_columns(runs, ["params", "tokens", "unique_tokens"], "scoring a datacon fit")
        return tuple(np.asarray(runs[c], dtype=float) for c in ("params", "tokens", "unique_tokens"))
    if result.method == "sparsity":
        pcol = str(result.options.get("params_col") or "params")
        scol = str(result.options.get("sparsity_col") or "sparsity")
        require_columns(runs, [pcol, "tokens", scol], "scoring a sparsity fit")
        return tuple(np.asarray(runs[c], dtype=float) for c in (pcol, "tokens", scol))
    return tuple(np.asarray(runs[c], dtype=float) for c in ("params", "tokens"))


def score_runs(
    fit: FitResult | str | Path, runs: Any, *, by: Sequence[str] | None = None, **loader_options
) -> RunScores:
    """Score runs against a saved fit without refitting -> :class:`RunScores`.

    fit: a FitResult or the path of a fit file (``scaling fit --out``); its law must have a loss
        model (Approach 3, VP, Kaplan, datacon, sparsity; not Approaches 1 and 2).
    runs: a runs table (path or DataFrame), read by :func:`scaling.runs.load_runs` with
        ``loader_options`` (``where``, ``params_col``, ``drop_failed`` ...); a single run is enough.
    Each run's residual is ln(loss / predicted), the unit of the fit's RMSE of log loss.
    by: columns to group the residuals by (:func:`scaling.fit.residual_groups.group_residuals`:
        per group a mean with its interval, one observation per trunk, and a test of the offsets).
    """
    res = fit if isinstance(fit, FitResult) else FitResult.load(fit)
    name = "fit" if isinstance(fit, FitResult) else str(fit)
    unknown = sorted(set(loader_options) - set(RUNS_LOADER_OPTIONS))
    if unknown:
        raise ScalingError(f"score_runs: the runs loader takes no option {unknown[0]!r}")
    law = res.to_law()
    if not getattr(law, "has_loss", True):
        raise ScalingError(
            f"{name}: the {res.method} fit gives an allocation, not a loss model; it cannot score runs "
            "(use an approach3, vp or kaplan fit)"
        )
    table = load_runs(runs, **{"min_runs": 1, **loader_options})
    meta = table.attrs.get("scaling", {})
    L = np.asarray(table["loss"], dtype=float)
    pred = np.atleast_1d(np.asarray(law.loss(*_law_inputs(res, table)), dtype=float))
    if not np.all(np.isfinite(pred) & (pred > 0)):
        i = int(np.flatnonzero(~(np.isfinite(pred) & (pred > 0)))[0])
        raise ScalingError(f"{name}: the law predicts no positive loss for run {table['run_id'].iloc[i]!r}")
    r = np.log(L) - np.log(pred)
    rows = [
        ScoredRun(
            run_id=str(rid), params=float(n), tokens=float(d), loss=float(lv), predicted=float(p), residual=float(e)
        )
        for rid, n, d, lv, p, e in zip(table["run_id"], table["params"], table["tokens"], L, pred, r)
    ]
    rmse = res.residuals.get("rmse_log_loss") if res.residuals else None
    return RunScores(
        fit=name,
        method=res.method,
        fit_runs=res.data.n_rows,
        fit_rmse_log_loss=None if rmse is None else float(rmse),
        fit_seed_noise=None if res.seed_noise is None else res.seed_noise.sd_log_loss,
        fit_averaged=res.seed_noise is not None and res.seed_noise.averaged,
        source=str(meta.get("source", "runs")),
        filters=[str(f) for f in meta.get("filters", [])],
        runs=rows,
        n=len(rows),
        mean_residual=float(np.mean(r)),
        rmse=float(np.sqrt(np.mean(r**2))),
        min_residual=float(np.min(r)),
        max_residual=float(np.max(r)),
        n_below=int(np.sum(r < 0)),
        n_above=int(np.sum(r > 0)),
        groups=None if by is None else group_residuals(table, r, by),
    )


__all__ = ["compare_forms", "split_runs", "format_comparison", "score_runs", "RunScores", "ScoredRun"]
