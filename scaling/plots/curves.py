"""Training curves: loss against FLOPs for every run (colour = size), with the lower envelope and
the budgets Approach 1 used. :func:`curves_data` computes, :func:`draw_curves` draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..fit.approach1 import envelope as _envelope
from ..fit.approach1 import fit_approach1
from ..runs import load_curves
from .common import (
    FLOPS_LABEL,
    LOSS_LABEL,
    as_fit,
    cmap,
    new_figure,
    params_label,
    plain_log_ticks,
    source_name,
    styled,
)


@dataclass
class RunCurve:
    run_id: str
    params: float  # the run's size (median over its rows)
    flops: np.ndarray
    loss: np.ndarray


@dataclass
class CurvesData:
    """Every run's curve (smallest first) and the lower envelope."""

    curves: list[RunCurve]
    n_points: int  # evaluations in the table
    envelope: list[dict] | None = None  # C, loss, used, winner per point (loss not None)
    envelope_label: str = ""  # legend label of the points Approach 1 used
    envelope_note: str = ""  # why Approach 1 could not be fitted (raw envelope drawn)
    params_label: str = "parameters N"
    title: str = ""

    @property
    def n_runs(self) -> int:
        return len(self.curves)

    @property
    def envelope_points(self) -> int:
        return len(self.envelope or [])

    @property
    def envelope_used(self) -> int:
        return sum(bool(e.get("used")) for e in self.envelope or [])


def _raw_envelope(df, n: int = 120):
    """Lower envelope of the curves (log-linear interpolation), without Approach 1's selection."""
    runs = []
    for rid, g in df.groupby("run_id", sort=False):
        g = g.sort_values("flops", kind="stable")
        runs.append(
            {
                "run_id": str(rid),
                "N": float(np.median(g["params"])),
                "logC": np.log(g["flops"].to_numpy(float)),
                "logL": np.log(g["loss"].to_numpy(float)),
                "logD": np.log(g["tokens"].to_numpy(float)),
            }
        )
    lo = min(r["logC"][0] for r in runs)
    hi = max(r["logC"][-1] for r in runs)
    grid = np.linspace(lo, hi, n)
    e = _envelope(runs, grid)
    return [
        {
            "C": float(np.exp(c)),
            "loss": float(l) if np.isfinite(l) else None,
            "used": False,
            "winner": runs[w]["run_id"] if w >= 0 else None,
        }
        for c, l, w in zip(grid, e["loss"], e["winner"])
    ]


def curves_data(curves_df, envelope: bool = True, fit=None, *, title: str | None = None) -> CurvesData:
    """The curves figure's data (no drawing).

    curves_df: a curves DataFrame (``load_curves``: one row per evaluation) or a path.
    envelope: compute the lower envelope and the budgets Approach 1 used for its fit (the optimum
        is bracketed by a smaller and a larger run).
    fit: an Approach 1 FitResult (or its JSON path) whose envelope to use; fitted here otherwise.
    """
    if isinstance(curves_df, pd.DataFrame) and {"run_id", "params", "tokens", "flops", "loss"} <= set(
        curves_df.columns
    ):
        df = curves_df
    else:
        df = load_curves(curves_df)
    if len(df) == 0:
        raise ScalingError("curves: the table is empty")
    fit = as_fit(fit)
    if fit is not None and fit.method != "approach1":
        raise ScalingError(
            f"curves: the fit is {fit.method}; the envelope comes from an Approach 1 fit "
            "(scaling fit CURVES --method approach1)"
        )
    runs = []
    for rid, g in df.groupby("run_id", sort=False):
        g = g.sort_values("flops", kind="stable")
        runs.append(
            RunCurve(str(rid), float(np.median(g["params"])), g["flops"].to_numpy(float), g["loss"].to_numpy(float))
        )
    order = np.argsort([r.params for r in runs])
    src = source_name(df)
    data = CurvesData(
        curves=[runs[i] for i in order],
        n_points=int(len(df)),
        params_label=params_label(None, df),
        title=title or ("Training curves" + (f": {src}" if src else "")),
    )
    if envelope:
        env = None
        if fit is None:
            try:
                fit = fit_approach1(df)
            except ScalingError as exc:
                data.envelope_note = str(exc)
        if fit is not None:
            env = fit.extra.get("envelope")
        if not env:
            env = _raw_envelope(df)
        data.envelope = [e for e in env if e.get("loss")]
        data.envelope_label = "budgets used by Approach 1"
        if fit is not None:
            data.envelope_label += f" ($N_{{opt}} \\propto C^{{{fit.params.get('a', float('nan')):.2f}}}$)"
    return data


@styled
def draw_curves(data: CurvesData, ax=None):
    """Draw :class:`CurvesData`. Artists carry gids: curve, envelope, envelope_used."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    sizes = np.array([r.params for r in data.curves])
    colours = cmap("viridis")
    norm = LogNorm(vmin=sizes.min(), vmax=sizes.max() if sizes.max() > sizes.min() else sizes.min() * 10)
    if ax is None:
        fig, axs = new_figure((6.6, 4.6))
        ax = axs[0, 0]
    else:
        fig = ax.figure
    for r in data.curves:
        (ln,) = ax.plot(r.flops, r.loss, color=colours(norm(r.params)), lw=1.1, alpha=0.9, zorder=2)
        ln.set_gid("curve")
    handles = [Line2D([], [], color="0.4", lw=1.1, label="training curve (colour = size)")]
    if data.envelope is not None:
        pts = data.envelope
        cc = np.array([e["C"] for e in pts])
        ll = np.array([e["loss"] for e in pts])
        used = np.array([bool(e.get("used")) for e in pts])
        # where the best run ends and a worse one takes over the envelope jumps up: break the line
        # there rather than draw a vertical connector that no run follows
        win = [e.get("winner") for e in pts]
        xs_, ys_ = [], []
        for i in range(len(pts)):
            if i > 0 and win[i] != win[i - 1] and ll[i] > ll[i - 1]:
                xs_.append(np.nan)
                ys_.append(np.nan)
            xs_.append(cc[i])
            ys_.append(ll[i])
        (le,) = ax.plot(xs_, ys_, color="black", lw=1.3, ls=(0, (4, 1.5)), zorder=3)
        le.set_gid("envelope")
        handles.append(
            Line2D([], [], color="black", lw=1.3, ls=(0, (4, 1.5)), label="lower envelope (best run at each budget)")
        )
        if used.any():
            s = ax.scatter(cc[used], ll[used], s=9, color="black", zorder=4)
            s.set_gid("envelope_used")
            handles.append(Line2D([], [], ls="", marker="o", ms=3, color="black", label=data.envelope_label))
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_ticks(ax)
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel(LOSS_LABEL)
    ax.set_title(data.title)
    # below the axes: where curves start high at large compute, the upper corners are taken
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    cb_ = fig.colorbar(ScalarMappable(norm=norm, cmap=colours), ax=ax, pad=0.02, fraction=0.05)
    cb_.set_label(data.params_label)
    return fig


def curves(curves_df, envelope: bool = True, fit=None, ax=None, *, title: str | None = None):
    """Training curves as a matplotlib Figure: :func:`draw_curves` of :func:`curves_data`."""
    return draw_curves(curves_data(curves_df, envelope, fit, title=title), ax)
