"""Residuals grouped: does a fit miss some groups of runs (a size, a shape, a data set) as a whole?

A surface can miss a run because of noise or because the run's group is off the form: a model size
whose shape or learning rate suits it better than its neighbours sits below the surface at every
budget and in every seed. ``group_residuals`` takes the per-run residuals ln(loss / predicted) of
:func:`scaling.fit.holdout.score_runs` and a grouping column, and asks per group whether its mean
residual differs from zero, with a 95% Student-t interval, and over all groups whether the group
offsets exceed what the scatter within groups explains (F test of "every group mean is 0").

The unit of observation matters. The branches of one trunk (scaling.train.branches) share its
training up to their cool-down, so one trunk's deviation moves all of them together: counted as
independent runs they would make any group look significant. When the table has a ``trunk`` column,
a group's observations are therefore its trunks (the mean residual of each trunk's runs; runs
without a trunk count alone), and the intervals and the test have one degree of freedom per trunk.
Two seeds of one size are two trunks: an offset that survives the test is shared by independent
trainings, not one trunk's luck.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import stats

from ..errors import ScalingError
from .noise import t_interval


class GroupResidual(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    group: str  # the group's values, "col=value" joined by ", "
    runs: int
    units: int  # independent observations: trunks (or runs without one)
    mean: float  # mean of the units' mean residuals
    low: float | None = None  # 95% Student-t interval of that mean (None with one unit)
    high: float | None = None


class ResidualGroups(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    by: list[str]
    unit: str  # "trunk" or "run"
    level: float = 0.95
    groups: list[GroupResidual]
    f_statistic: float | None = None  # mean square of the group means over the within-group one
    df: tuple[int, int] | None = None
    p_value: float | None = None  # of "every group's mean residual is 0"
    share: float | None = None  # share of the units' sum of squares carried by the group means

    def summary(self) -> str:
        w = max([len("group")] + [len(g.group) for g in self.groups])
        lines = [
            f"residuals by {', '.join(self.by)} (unit: one {self.unit}; mean of its runs' ln(loss / predicted))",
            f"{'group':>{w}}  {'runs':>4}  {self.unit + 's':>6}  {'mean':>8}  {int(self.level * 100)}% interval",
        ]
        for g in self.groups:
            ci = "(one unit: none)"
            if g.low is not None and g.high is not None:
                ci = f"{100 * g.low:+.2f}% .. {100 * g.high:+.2f}%"
            lines.append(f"{g.group:>{w}}  {g.runs:>4}  {g.units:>6}  {100 * g.mean:>+7.2f}%  {ci}")
        if self.p_value is not None and self.df is not None and self.share is not None:
            lines.append(
                f"group offsets: F = {self.f_statistic:.2f} on ({self.df[0]}, {self.df[1]}) df, p = {self.p_value:.2g} "
                f"(every group's mean residual 0); the group means carry {100 * self.share:.0f}% of the "
                f"{self.unit}s' sum of squares"
            )
        else:
            lines.append("group offsets: not tested (no group has two units, so nothing measures the scatter within)")
        return "\n".join(lines)


def _label(by: Sequence[str], key) -> str:
    values = key if isinstance(key, tuple) else (key,)
    out = []
    for col, v in zip(by, values):
        if isinstance(v, (float, np.floating)):
            v = int(v) if float(v).is_integer() and abs(v) < 1e15 else f"{float(v):.6g}"
        out.append(f"{col}={v}")
    return ", ".join(out)


def group_residuals(table: pd.DataFrame, residuals: Sequence[float], by: Sequence[str], *, level: float = 0.95):
    """Group per-run residuals by the columns ``by`` -> :class:`ResidualGroups` (see the module)."""
    by = [str(c).strip() for c in by if str(c).strip()]
    if not by:
        raise ScalingError("--by: name a column to group the residuals by, e.g. params")
    missing = [c for c in by if c not in table.columns]
    if missing:
        raise ScalingError(f"--by: the runs table has no column {missing[0]!r}")
    r = np.asarray(residuals, dtype=float)
    if len(r) != len(table):
        raise ScalingError("group_residuals: one residual per run is needed")
    df = table[by].copy()
    if df.isna().any().any():
        col = next(c for c in by if df[c].isna().any())
        row = int(np.flatnonzero(df[col].isna().to_numpy())[0])
        raise ScalingError(f"--by: column {col!r} is empty in row {row} ({table['run_id'].iloc[row]})")
    df["_r"] = r
    has_trunk = "trunk" in table.columns and table["trunk"].notna().any()
    if has_trunk:
        sweep = table["sweep"].astype(str) if "sweep" in table.columns else ""
        own = "run:" + table["run_id"].astype(str)
        df["_unit"] = np.where(table["trunk"].notna(), sweep + "/" + table["trunk"].astype(str), own)
    else:
        df["_unit"] = table["run_id"].astype(str).to_numpy()
    units = df.groupby(by + ["_unit"], sort=True, dropna=False)["_r"].agg(["mean", "size"]).reset_index()
    groups, between, within, n_units, n_groups = [], 0.0, 0.0, 0, 0
    for key, g in units.groupby(by, sort=True):
        m = g["mean"].to_numpy(dtype=float)
        k, mu = len(m), float(np.mean(m))
        low, high = t_interval(m.tolist(), level) or (None, None)
        within += float(np.sum((m - mu) ** 2))
        between += k * mu**2
        n_units += k
        n_groups += 1
        groups.append(
            GroupResidual(group=_label(by, key), runs=int(g["size"].sum()), units=k, mean=mu, low=low, high=high)
        )
    unit = "trunk" if has_trunk else "run"
    dof_within = n_units - n_groups
    if dof_within < 1 or within <= 0:
        return ResidualGroups(by=by, unit=unit, level=level, groups=groups)
    f = (between / n_groups) / (within / dof_within)
    return ResidualGroups(
        by=by,
        unit=unit,
        level=level,
        groups=groups,
        f_statistic=float(f),
        df=(n_groups, dof_within),
        p_value=float(stats.f.sf(f, n_groups, dof_within)),
        share=float(between / (between + within)),
    )


__all__ = ["group_residuals", "ResidualGroups", "GroupResidual"]
