"""IsoFLOP profiles: loss against parameters, one colour per FLOP budget, with each budget's
parabola in log N, its minimum, the Approach 2 frontier through the minima and a law's prediction
along the same isoFLOP lines. :func:`isoflop_data` computes, :func:`draw_isoflop` draws."""

from __future__ import annotations

import math
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..fit.approach2 import fit_approach2
from ..fit.isoflop import assign_budgets, isoflop_minimum
from .common import (
    FLOPS_LABEL,
    LOSS_LABEL,
    as_fit,
    as_law,
    cmap,
    new_figure,
    params_label,
    require_loss,
    runs_table,
    source_name,
    styled,
)


@dataclass
class BudgetProfile:
    """One FLOP budget's runs and what was fitted to them."""

    C: float
    params: np.ndarray  # the runs' sizes
    loss: np.ndarray  # and losses
    used: np.ndarray  # inside the parabola window (bool per run)
    N_opt: float | None  # the minimum (None: no interior minimum)
    loss_opt: float | None
    flagged: bool  # left out of the Approach 2 fit
    reason: str = ""
    parabola: dict | None = None  # logN_opt, loss_opt, curvature
    parabola_curve: tuple[np.ndarray, np.ndarray] | None = None  # (N, loss) to draw
    law_curve: tuple[np.ndarray, np.ndarray] | None = None  # the law along this isoFLOP line

    @property
    def n_runs(self) -> int:
        return int(len(self.params))

    @property
    def n_used(self) -> int:
        return int(self.used.sum())

    @property
    def law_loss_min(self) -> float | None:
        return float(np.min(self.law_curve[1])) if self.law_curve is not None else None

    @property
    def law_N_min(self) -> float | None:
        if self.law_curve is None:
            return None
        return float(self.law_curve[0][int(np.argmin(self.law_curve[1]))])


@dataclass
class IsoflopData:
    """Everything the isoFLOP figure shows, in plain numbers."""

    n_runs: int
    n_budgets: int
    budget_mode: str
    law: str | None  # name of the law whose prediction is drawn
    profiles: list[BudgetProfile]
    frontier: tuple[np.ndarray, np.ndarray] | None = None  # Approach 2 frontier (N, loss)
    frontier_label: str | None = None
    y_range: tuple[float, float] = (0.0, 1.0)
    n_points_above_view: int = 0
    params_label: str = "parameters N"
    title: str = "IsoFLOP profiles"
    note: str | None = None  # budgets without an interior minimum, said on the figure
    no_interior_minimum: list[dict[str, Any]] = field(default_factory=list)

    @property
    def n_points(self) -> int:
        return sum(p.n_runs for p in self.profiles)

    @property
    def n_minima(self) -> int:
        return sum(1 for p in self.profiles if p.N_opt and p.loss_opt is not None and not p.flagged)

    @property
    def budgets(self) -> list[float]:
        return [p.C for p in self.profiles]


def _budget_options(fit) -> dict[str, Any]:
    opts = {"window": 0.1, "min_points": 3, "budgets": "auto", "tol": 0.05, "bins_per_decade": 4.0}
    if fit is not None and fit.method == "approach2":
        for k in opts:
            if k in fit.options:
                opts[k] = fit.options[k]
        if fit.options.get("budget_mode") in ("exact", "bins") and isinstance(opts["budgets"], str):
            opts["budgets"] = fit.options["budget_mode"]
    return opts


def _isoflop_D_of_N(logN: np.ndarray, logD: np.ndarray, logC: float):
    """log D as a function of log N along one isoFLOP line, from the runs themselves.

    A straight line in log-log fitted to the budget's runs follows whatever FLOP convention the
    table used; with a single size it falls back to C = 6 N D.
    """
    if len(np.unique(logN)) >= 2:
        slope, icpt = np.polyfit(logN, logD, 1)
        return lambda x: icpt + slope * x
    return lambda x: logC - math.log(6.0) - x


def isoflop_data(runs, fit=None, law=None, *, title: str | None = None, show_frontier: bool = True) -> IsoflopData:
    """The isoFLOP figure's data (no drawing).

    runs: a runs DataFrame (``load_runs``) or a path.
    fit: an Approach 2 FitResult (or its JSON path): its budget grouping, parabola window and
        minima are used; without one, Approach 2 is fitted here with its defaults. A fit with a
        loss model (approach3, vp, kaplan) is used as ``law`` when no ``law`` is given.
    law: a law, a registered name, a fit JSON path or a FitResult with a loss model.
    Warns when budgets have no minimum inside the sampled sizes.
    """
    df = runs_table(runs, "isoflop")
    fit = as_fit(fit)
    if law is None and fit is not None and fit.form != "powerlaw":
        law = fit
    if fit is None or fit.method != "approach2":
        # the parabolas, minima and frontier of an Approach 2 fit with its defaults; runs that
        # have no valid isoFLOP minimum still get their profiles drawn
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_approach2(df)
        except ScalingError:
            fit = None
    law = as_law(law)
    if law is not None:
        require_loss(law, "the isoFLOP prediction")
    opts = _budget_options(fit)
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    C = np.asarray(df["flops"], dtype=float)
    bidx, Cb, mode = assign_budgets(
        C,
        budgets=opts["budgets"],
        tol=float(opts["tol"]),
        bins_per_decade=float(opts["bins_per_decade"]),
        min_points=int(opts["min_points"]),
    )
    logN, logD = np.log(N), np.log(D)
    fit_budgets = (fit.extra.get("budgets") if fit is not None and fit.method == "approach2" else None) or []

    profiles: list[BudgetProfile] = []
    y_lo, y_hi = [], []
    for k, cb in enumerate(Cb):
        m = bidx == k
        if not m.any():
            continue
        prof = isoflop_minimum(logN[m], L[m], logD[m], window=opts["window"], min_points=int(opts["min_points"]))
        used = np.asarray(prof["used"], dtype=bool)
        ys = L[m]
        y_lo.append(float(ys.min()))
        y_hi.append(float(ys[used].max()) if used.any() else float(ys.max()))
        # the parabola: the fit's own numbers when it is an Approach 2 fit of these budgets
        fb = None
        if fit_budgets:
            j = int(np.argmin([abs(math.log(b["C"] / cb)) for b in fit_budgets]))
            if abs(math.log(fit_budgets[j]["C"] / cb)) < math.log1p(0.1):
                fb = fit_budgets[j]
        if fb is not None:
            nopt, lopt, curv = fb.get("N_opt"), fb.get("loss_opt"), fb.get("curvature")
            flagged = bool(fb.get("flagged"))
        else:
            nopt = math.exp(prof["logN_opt"]) if np.isfinite(prof["logN_opt"]) else None
            lopt = prof["loss_opt"] if np.isfinite(prof["loss_opt"]) else None
            curv = prof["curvature"] if np.isfinite(prof["curvature"]) else None
            flagged = not prof["ok"]
        p = BudgetProfile(
            C=float(cb),
            params=N[m],
            loss=ys,
            used=used,
            N_opt=nopt,
            loss_opt=lopt,
            flagged=flagged,
            reason=(fb or prof).get("reason", ""),
        )
        if nopt and lopt is not None and curv is not None and curv > 0 and used.sum() >= 2:
            x0 = math.log(nopt)
            xu = logN[m][used]
            xg = np.linspace(min(xu.min(), x0) - 0.15, max(xu.max(), x0) + 0.15, 80)
            p.parabola = {"logN_opt": x0, "loss_opt": lopt, "curvature": curv}
            p.parabola_curve = (np.exp(xg), lopt + curv * (xg - x0) ** 2)
        if law is not None:
            xr = np.linspace(logN[m].min(), logN[m].max(), 60)
            dfun = _isoflop_D_of_N(logN[m], logD[m], math.log(cb))
            p.law_curve = (np.exp(xr), np.asarray(law.loss(np.exp(xr), np.exp(dfun(xr))), dtype=float))
        profiles.append(p)

    data = IsoflopData(
        n_runs=int(len(df)),
        n_budgets=int(len(Cb)),
        budget_mode=mode,
        law=getattr(law, "name", None),
        profiles=profiles,
        params_label=params_label(law, df),
    )
    if show_frontier and fit is not None and fit.method == "approach2":
        flaw = fit.to_law()
        if getattr(flaw, "has_frontier_loss", False):
            ok = [b for b in profiles if not b.flagged and b.N_opt]
            if len(ok) >= 2:
                cg = np.geomspace(min(b.C for b in ok), max(b.C for b in ok), 50)
                nf, _ = flaw.frontier(cg)
                data.frontier = (np.asarray(nf, dtype=float), np.asarray(flaw.loss_at_frontier(cg), dtype=float))
                data.frontier_label = f"Approach 2 frontier, $N_{{opt}} \\propto C^{{{flaw.a:.3f}}}$"

    # the valley floors are what matters; the far walls of wide sweeps reach several nats higher
    lo, hi = min(y_lo), max(y_hi)
    span = hi - lo
    ytop = max(float(np.max(L)), hi) if float(np.max(L)) <= hi + 0.6 * span else hi + 0.6 * span
    data.y_range = (lo - 0.05 * span, ytop + 0.03 * span)
    data.n_points_above_view = int(np.sum(L > ytop + 0.03 * span))
    src = source_name(df)
    data.title = title or ("IsoFLOP profiles" + (f": {src}" if src else ""))

    # budgets whose profile has no minimum inside the sampled sizes: said on the figure and on
    # stderr, instead of legend entries for parabolas that are not there
    no_min = [b for b in profiles if b.flagged or b.parabola is None]
    data.no_interior_minimum = [{"C": b.C, "reason": b.reason} for b in no_min]
    if no_min:
        shown = ", ".join(f"{b.C:.3g}" for b in no_min[:4]) + (", ..." if len(no_min) > 4 else "")
        data.note = f"no interior minimum at {len(no_min)} of {len(profiles)} budgets ({shown} FLOPs)" + (
            "" if any(b.parabola is not None for b in profiles) else ": no parabola drawn"
        )
        why = no_min[0].reason or "the profile has no minimum inside the sampled sizes"
        warnings.warn(f"isoFLOP plot: {data.note}; at {no_min[0].C:.3g} FLOPs: {why}", stacklevel=2)
    return data


@styled
def draw_isoflop(data: IsoflopData, ax=None):
    """Draw :class:`IsoflopData`: runs (filled: inside the parabola window; hollow: outside it),
    parabolas, minima (a flagged budget's is a grey cross), the law's prediction (dashed) and the
    Approach 2 frontier (dotted). Artists carry gids: runs, minima, flagged_minima, no_minimum_note."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    if ax is None:
        fig, axs = new_figure((6.6, 4.6))
        ax = axs[0, 0]
    else:
        fig = ax.figure
    colours = cmap("viridis")
    cs = [p.C for p in data.profiles]
    norm = LogNorm(vmin=float(min(cs)), vmax=float(max(cs)) if max(cs) > min(cs) else float(min(cs)) * 10)
    any_hollow = any_flagged = any_min = any_parabola = False
    for p in data.profiles:
        col = colours(norm(p.C))
        sc = ax.scatter(p.params[p.used], p.loss[p.used], s=16, color=col, edgecolors="none", zorder=3)
        sc.set_gid("runs")
        if (~p.used).any():
            any_hollow = True
            sc2 = ax.scatter(
                p.params[~p.used], p.loss[~p.used], s=16, facecolors="none", edgecolors=col, linewidths=0.9, zorder=3
            )
            sc2.set_gid("runs")
        if p.parabola_curve is not None:
            ax.plot(*p.parabola_curve, color=col, lw=1.2, alpha=0.9, zorder=2)
            any_parabola = True
        if p.N_opt and p.loss_opt is not None:
            if p.flagged:
                any_flagged = True
                mk = ax.scatter([p.N_opt], [p.loss_opt], marker="x", s=30, color="0.45", linewidths=1.2, zorder=5)
                mk.set_gid("flagged_minima")
            else:
                any_min = True
                mk = ax.scatter(
                    [p.N_opt], [p.loss_opt], marker="*", s=90, color=col, edgecolors="black", linewidths=0.6, zorder=6
                )
                mk.set_gid("minima")
        if p.law_curve is not None:
            ax.plot(*p.law_curve, color=col, lw=1.0, ls=(0, (4, 2)), zorder=2)
    if data.frontier is not None:
        ax.plot(*data.frontier, color="black", lw=1.0, ls=":", zorder=4)

    ax.set_xscale("log")
    ax.set_xlabel(data.params_label)
    ax.set_ylabel(LOSS_LABEL)
    ax.set_ylim(*data.y_range)
    ax.set_title(data.title)
    handles = [
        Line2D([], [], ls="", marker="o", ms=4, color="0.3", label="run (in parabola fit)" if any_parabola else "run")
    ]
    if any_hollow:
        handles.append(Line2D([], [], ls="", marker="o", ms=4, mfc="none", mec="0.3", label="run (outside window)"))
    if any_parabola:
        handles.append(Line2D([], [], color="0.3", lw=1.2, label="parabola in log N"))
    if any_min:
        handles.append(Line2D([], [], ls="", marker="*", ms=8, color="0.3", mec="black", label="isoFLOP minimum"))
    if any_flagged:
        handles.append(Line2D([], [], ls="", marker="x", ms=5, color="0.45", label="flagged budget (left out)"))
    if data.law is not None:
        handles.append(Line2D([], [], color="0.3", lw=1.0, ls=(0, (4, 2)), label=f"{data.law} prediction"))
    if data.frontier_label and data.frontier is not None:
        handles.append(Line2D([], [], color="black", lw=1.0, ls=":", label=data.frontier_label))
    if data.n_points_above_view:
        handles.append(
            Line2D(
                [], [], ls="", label=f"{data.n_points_above_view} runs above the view (loss > {data.y_range[1]:.2f})"
            )
        )
    if data.note:  # inside the axes (wrapped): a legend entry this long squeezes the plot
        t = ax.text(
            0.5,
            0.98,
            textwrap.fill(data.note, 56),
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=7.5,
            color="0.2",
            zorder=7,
            bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.75", "alpha": 0.9},
        )
        t.set_gid("no_minimum_note")
    # below the axes: the profiles fill the whole plotting area
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
        frameon=False,
        handlelength=2.2,
        columnspacing=1.2,
    )
    cb_ = fig.colorbar(ScalarMappable(norm=norm, cmap=colours), ax=ax, pad=0.02, fraction=0.05)
    cb_.set_label(FLOPS_LABEL)
    return fig


def isoflop(runs, fit=None, law=None, ax=None, *, title: str | None = None, show_frontier: bool = True):
    """IsoFLOP profiles as a matplotlib Figure: :func:`draw_isoflop` of :func:`isoflop_data`."""
    return draw_isoflop(isoflop_data(runs, fit, law, title=title, show_frontier=show_frontier), ax)
