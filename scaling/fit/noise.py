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
        )

    def verdict(self, rmse_log_loss: float) -> str:
        """ "RMSE 1.97% vs seed noise 1.75% (1.05-5.04%, 4 pairs): the residual is within seed noise":
        within when the RMSE lies in the noise's interval, exceeds above it, below under it."""
        lo, hi = self.interval
        if rmse_log_loss > hi:
            say = "the residual exceeds seed noise (the surface misses by more than the runs' own noise)"
        elif rmse_log_loss < lo:
            say = "the residual is below seed noise (the surface follows the noise: few runs per parameter?)"
        else:
            say = "the residual is within seed noise"
        return (
            f"RMSE {100 * rmse_log_loss:.2f}% vs seed noise {100 * self.sd_log_loss:.2f}% "
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
    from scipy.stats import chi2

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
    q_hi, q_lo = float(chi2.ppf((1 + level) / 2, df)), float(chi2.ppf((1 - level) / 2, df))
    return SeedNoise(
        sd_log_loss=sd,
        interval=(sd * math.sqrt(df / q_hi), sd * math.sqrt(df / q_lo)),
        level=level,
        df=df,
        n_groups=len(kept),
        n_runs=sum(len(g.run_ids) for g in kept),
        groups=kept,
    )


def _pct(level: float) -> str:
    v = 100 * level
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:g}"


__all__ = ["SeedNoise", "ReplicateGroup", "replicate_groups", "seed_noise"]
