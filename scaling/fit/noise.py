"""Seed noise measured from replicate runs, and the verdict on a fit's residual against it.

Runs trained at the same size N on the same number of tokens D (and, where the table has them, the
same unique tokens and sparsity) that differ only in their seed are replicates: the spread of their
log losses is the noise of one run, which no loss surface in (N, D) can fit away. The pooled
within-group standard deviation of log loss,

    s^2 = sum_i sum_j (ln L_ij - mean_j ln L_ij)^2 / df,   df = sum_i (n_i - 1),

estimates it (for pairs, s^2 is the mean of d_i^2 / 2 over the pair differences d_i), with the
chi-square interval s sqrt(df / chi2_{(1+level)/2, df}) .. s sqrt(df / chi2_{(1-level)/2, df}) for
normal noise. A fit's log-loss RMSE inside that interval is what the noise alone would leave.

numpy and pandas at import; scipy (the chi-square quantiles) inside :func:`seed_noise`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

# columns that are variables of a law (the data-constrained and sparsity laws): runs differing in
# them are different points, not replicates
POINT_KEYS = ("params", "tokens", "unique_tokens", "sparsity")
SEED_COL = "seed"


class ReplicateGroup(BaseModel):
    """One point (N, D) trained more than once: its runs and the spread of their log losses."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    params: float
    tokens: float
    run_ids: list[str]
    sd_log_loss: float  # the group's own standard deviation of log loss (ddof 1)


class SeedNoise(BaseModel):
    """The per-run noise of log loss pooled over replicate groups, with its chi-square interval."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sd_log_loss: float  # pooled within-group standard deviation of ln(loss)
    interval: tuple[float, float]  # chi-square interval of sd_log_loss at ``level``
    level: float = 0.95
    df: int  # degrees of freedom: sum over groups of (runs - 1)
    n_groups: int
    n_runs: int
    groups: list[ReplicateGroup] = Field(default_factory=list)
    # when the fit averaged each point's replicates (``fit(..., mean_seeds=True)``): the noise of one
    # fitted point relative to one run's, sqrt(mean over the fitted points of 1/n) for points of n
    # runs (1/sqrt(2) when every point is a pair); 1.0 when runs were fitted one by one
    point_scale: float = 1.0

    @property
    def pairs(self) -> bool:
        """Whether every group is a pair of runs."""
        return bool(self.groups) and all(len(g.run_ids) == 2 for g in self.groups)

    def what(self) -> str:
        """ "4 pairs" or "3 groups of 2-3 runs"."""
        if self.pairs:
            return f"{self.n_groups} pair{'s' if self.n_groups != 1 else ''}"
        sizes = [len(g.run_ids) for g in self.groups] or [0]
        span = f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"
        return f"{self.n_groups} group{'s' if self.n_groups != 1 else ''} of {span} runs"

    def line(self) -> str:
        """ "seed noise: 1.75% of log loss per run (95% interval 1.05-5.04%, chi-square); pooled over 4 pairs
        (8 runs, 4 degrees of freedom)"."""
        lo, hi = self.interval
        return (
            f"seed noise: {100 * self.sd_log_loss:.2f}% of log loss per run ({_pct(self.level)}% interval "
            f"{100 * lo:.2f}-{100 * hi:.2f}%, chi-square); pooled over {self.what()} of replicates "
            f"({self.n_runs} runs, {self.df} degree{'s' if self.df != 1 else ''} of freedom)"
            + (
                f"; the fit averages them, {100 * self.point_scale * self.sd_log_loss:.2f}% per fitted point"
                if self.averaged
                else ""
            )
        )

    @property
    def averaged(self) -> bool:
        """Whether the fit averaged replicates (its points are means of runs)."""
        return self.point_scale < 1.0 - 1e-12

    def verdict(self, rmse_log_loss: float) -> str:
        """ "RMSE 1.97% vs seed noise 1.75% (1.05-5.04%, 4 pairs): the residual is within seed noise":
        within when the RMSE lies in the noise's interval, exceeds above it, below under it. When the
        fit averaged replicates, the RMSE is set against the noise of a fitted point (the noise of one
        run times ``point_scale``)."""
        k = self.point_scale
        lo, hi = self.interval[0] * k, self.interval[1] * k
        if rmse_log_loss > hi:
            say = "the residual exceeds seed noise (the surface misses by more than the runs' own noise)"
        elif rmse_log_loss < lo:
            say = "the residual is below seed noise (the surface follows the noise: few runs per parameter?)"
        else:
            say = "the residual is within seed noise"
        what = "seed noise" if not self.averaged else "the seed noise of a fitted point (a mean of replicates)"
        return (
            f"RMSE {100 * rmse_log_loss:.2f}% vs {what} {100 * k * self.sd_log_loss:.2f}% "
            f"({100 * lo:.2f}-{100 * hi:.2f}%, {self.what()}): {say}"
        )


def replicate_groups(runs: pd.DataFrame) -> list[pd.DataFrame]:
    """The groups of runs at one point (same params and tokens, and unique tokens and sparsity where
    the table has them) with at least two runs. Where the table has a ``seed`` column a group must
    hold distinct seeds: runs at one point with the same seed differ in something else (a learning
    rate, a data set) and measure that, not seed noise; such groups are left out."""
    if len(runs) < 2 or not {"params", "tokens", "loss"} <= set(runs.columns):
        return []
    keys = [k for k in POINT_KEYS if k in runs.columns]
    out = []
    for _, g in runs.groupby(keys, sort=True, dropna=False):
        if len(g) < 2:
            continue
        if SEED_COL in g.columns and (g[SEED_COL].isna().any() or g[SEED_COL].duplicated().any()):
            continue
        out.append(g)
    return out


def seed_noise(runs: pd.DataFrame, level: float = 0.95) -> SeedNoise | None:
    """The pooled per-run standard deviation of log loss over the replicate groups of ``runs``
    (:func:`replicate_groups`) with its chi-square interval at ``level``; None without replicates."""
    groups = replicate_groups(runs)
    if not groups:
        return None
    ss, df, kept = 0.0, 0, []
    for g in groups:
        y = np.log(np.asarray(g["loss"], dtype=float))
        ss += float(np.sum((y - y.mean()) ** 2))
        df += len(y) - 1
        ids = g["run_id"] if "run_id" in g.columns else pd.Series([f"row{i}" for i in g.index])
        kept.append(
            ReplicateGroup(
                params=float(g["params"].iloc[0]),
                tokens=float(g["tokens"].iloc[0]),
                run_ids=[str(r) for r in ids],
                sd_log_loss=float(np.std(y, ddof=1)),
            )
        )
    sd = math.sqrt(ss / df)
    lo, hi = chi2_interval(sd, df, level)
    return SeedNoise(
        sd_log_loss=sd,
        interval=(float(lo), float(hi)),
        level=level,
        df=df,
        n_groups=len(kept),
        n_runs=sum(len(g.run_ids) for g in kept),
        groups=kept,
    )


def chi2_interval(sd, df: int, level: float = 0.95):
    """The chi-square interval of a pooled standard deviation ``sd`` (a number or an array of them) on
    ``df`` degrees of freedom: sd sqrt(df / chi2_{(1+level)/2, df}) .. sd sqrt(df / chi2_{(1-level)/2, df})."""
    from scipy.stats import chi2

    q_hi, q_lo = float(chi2.ppf((1 + level) / 2, df)), float(chi2.ppf((1 - level) / 2, df))
    sd = np.asarray(sd, dtype=float)
    return sd * math.sqrt(df / q_hi), sd * math.sqrt(df / q_lo)


def t_quantile(n: int, level: float = 0.95) -> float:
    """The two-sided Student-t quantile for the mean of ``n`` values (``n - 1`` degrees of freedom)."""
    from scipy.stats import t  # scipy on first use: `scaling --help` and plans start without it

    return float(t.ppf(0.5 + level / 2, n - 1))


def t_interval(values, level: float = 0.95) -> tuple[float, float] | None:
    """The Student-t interval of the mean of the finite ``values`` (None entries skipped); None with
    fewer than two."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if len(v) < 2:
        return None
    half = t_quantile(len(v), level) * float(np.std(v, ddof=1)) / math.sqrt(len(v))
    m = float(np.mean(v))
    return (m - half, m + half)


def replicates_differ(runs: pd.DataFrame, column: str) -> str | None:
    """Where the replicates :func:`mean_replicates` averages into one point differ in ``column``
    ("'a' vs 'b' at params 1e+04, tokens 2e+06"), or None when every replicate group shares one value
    (the averaged point then keeps it). A cluster bootstrap cannot group averaged points by such a
    column (a trunk per seed): their groups are no longer one value."""
    if column not in runs.columns:
        return None
    for g in replicate_groups(runs):
        v = g[column]
        if v.nunique(dropna=False) > 1:
            a, b = (str(x) for x in v.drop_duplicates().iloc[:2])
            n, d = float(g["params"].iloc[0]), float(g["tokens"].iloc[0])
            return f"{a!r} vs {b!r} at params {n:.4g}, tokens {d:.4g}"
    return None


def mean_replicates(runs: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The runs with each replicate group (:func:`replicate_groups`) replaced by one row: the
    geometric mean of its losses (the mean of log loss, the quantity the fits' residuals are in),
    ``run_id`` "mean of <ids>", ``seed`` missing and a column ``replicates`` (the number of runs
    averaged; 1 for the others); the other columns from the group's first run. Returns the table and
    the noise of a fitted point relative to one run's, sqrt(mean of 1/n) over the rows. Averaging
    before fitting gives every point the same weight however often it was trained, and takes the
    seed noise of a point down by sqrt(n); the bootstrap then resamples points, not runs of one point.
    """
    groups = replicate_groups(runs)
    if not groups:
        out = runs.copy()
        out["replicates"] = 1
        out.attrs = dict(runs.attrs)
        return out, 1.0
    grouped: set = set()
    rows = []
    for g in groups:
        grouped.update(g.index)
        row = g.iloc[0].copy()
        row["loss"] = float(np.exp(np.mean(np.log(np.asarray(g["loss"], dtype=float)))))
        if "run_id" in g.columns:
            row["run_id"] = "mean of " + ", ".join(str(r) for r in g["run_id"])
        if SEED_COL in g.columns:
            row[SEED_COL] = np.nan
        row["replicates"] = len(g)
        rows.append(row)
    single = runs.loc[[i for i in runs.index if i not in grouped]].copy()
    single["replicates"] = 1
    out = pd.concat([single, pd.DataFrame(rows)], axis=0)
    kept = set(out.index)
    out = out.loc[[i for i in runs.index if i in kept]]
    n = np.asarray(out["replicates"], dtype=float)
    meta = dict(runs.attrs.get("scaling", {}))
    meta["filters"] = list(meta.get("filters", [])) + [
        f"replicates averaged: {len(groups)} points of {int(sum(len(g) for g in groups))} runs (mean log loss)"
    ]
    out.attrs = {**runs.attrs, "scaling": meta}
    return out, float(np.sqrt(np.mean(1.0 / n)))


def _pct(level: float) -> str:
    v = 100 * level
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


__all__ = [
    "SeedNoise",
    "ReplicateGroup",
    "chi2_interval",
    "mean_replicates",
    "replicate_groups",
    "replicates_differ",
    "seed_noise",
    "t_interval",
    "t_quantile",
]
