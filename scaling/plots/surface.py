"""The loss surface: contours of L(N, D) over log N and log D, with isoFLOP lines, the
compute-optimal frontier and the runs coloured by their observed loss. :func:`surface_data`
computes, :func:`draw_surface` draws."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import OutOfRangeWarning
from .common import (
    LOSS_LABEL,
    as_law,
    cmap,
    flops_text,
    heldout_mask,
    new_figure,
    params_label,
    require_loss,
    runs_table,
    source_name,
    styled,
)


@dataclass
class SurfaceData:
    """Everything the surface figure shows, in plain numbers."""

    law: str
    N: np.ndarray  # the grid (2-D, from meshgrid)
    D: np.ndarray
    loss: np.ndarray  # the law's loss on the grid
    levels: np.ndarray  # contour levels (shared with the runs' colours)
    budgets: list[float]  # isoFLOP lines drawn (C = 6 N D)
    frontier: tuple[np.ndarray, np.ndarray]  # (N, D) of the frontier inside the view
    n_range: tuple[float, float]
    d_range: tuple[float, float]
    runs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (N, D, observed loss)
    heldout: np.ndarray | None = None  # bool per run
    params_label: str = "parameters N"
    title: str = ""

    @property
    def n_runs(self) -> int:
        return 0 if self.runs is None else int(len(self.runs[0]))

    @property
    def frontier_points(self) -> int:
        return int(len(self.frontier[0]))


def _surface_ranges(law, df):
    if df is not None:
        N = np.asarray(df["params"], dtype=float)
        D = np.asarray(df["tokens"], dtype=float)
        return (N.min() / 2.5, N.max() * 2.5), (D.min() / 2.5, D.max() * 2.5)
    rng = law.provenance.fitted_flops or (1e18, 1e22)
    N, D = law.frontier(np.array([rng[0], rng[1]], dtype=float))
    N, D = np.atleast_1d(N), np.atleast_1d(D)
    return (N.min() / 30, N.max() * 30), (D.min() / 30, D.max() * 30)


def nice_levels(lo: float, hi: float, n: int = 14) -> np.ndarray:
    """About ``n`` contour levels at round steps (1, 2, 2.5, 5 x 10^k) covering [lo, hi]."""
    span = max(hi - lo, 1e-6)
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    return np.round(np.arange(start, stop + step / 2, step), 10)


def surface_data(
    law, runs=None, *, budgets: Sequence[float] | None = None, title: str | None = None, heldout=None
) -> SurfaceData:
    """The surface figure's data (no drawing).

    law: a law with a loss model, a registered name, a fit JSON path or a FitResult.
    runs: optional runs to draw as points, coloured by their observed loss on the same scale as
        the contours (a run whose colour differs from the background is badly predicted).
    budgets: FLOP budgets whose isoFLOP lines (C = 6 N D) are drawn; default one per decade.
    heldout: runs to mark as held out (a DataFrame, a boolean mask over ``runs`` or a query).
    """
    law = as_law(law)
    require_loss(law, "the loss surface")
    df = runs_table(runs, "surface") if runs is not None else None
    (n0, n1), (d0, d1) = _surface_ranges(law, df)
    ng = np.geomspace(n0, n1, 220)
    dg = np.geomspace(d0, d1, 220)
    NN, DD = np.meshgrid(ng, dg)
    Z = np.asarray(law.loss(NN, DD), dtype=float)
    zlo = float(np.nanmin(Z))
    if df is not None:
        Lobs = np.asarray(df["loss"], dtype=float)
        zhi = max(float(np.quantile(Lobs, 0.98)) * 1.02, zlo + 0.1)
        zlo = min(zlo, float(Lobs.min()))
    else:
        zhi = float(np.nanquantile(Z, 0.9))
    cmin, cmax = 6 * n0 * d0, 6 * n1 * d1
    if budgets is None:
        e0, e1 = math.ceil(math.log10(cmin)), math.floor(math.log10(cmax))
        step = max(1, int(math.ceil((e1 - e0 + 1) / 7)))
        budgets = [10.0**e for e in range(e0, e1 + 1, step)]
    budgets = [float(c) for c in budgets if cmin < c < cmax]
    # the efficient frontier across the plotted compute range
    cg = np.geomspace(cmin, cmax, 200)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        fn, fd = law.frontier(cg)
    fn, fd = np.asarray(fn), np.asarray(fd)
    keep = (fn >= n0) & (fn <= n1) & (fd >= d0) & (fd <= d1)
    src = source_name(df) if df is not None else ""
    data = SurfaceData(
        law=law.name,
        N=NN,
        D=DD,
        loss=Z,
        levels=nice_levels(zlo, zhi, 20),
        budgets=budgets,
        frontier=(fn[keep], fd[keep]),
        n_range=(n0, n1),
        d_range=(d0, d1),
        params_label=params_label(law, df),
        title=title or f"Loss surface of {law.name}" + (f" with runs of {src}" if src else ""),
    )
    if df is not None:
        data.runs = (
            np.asarray(df["params"], dtype=float),
            np.asarray(df["tokens"], dtype=float),
            np.asarray(df["loss"], dtype=float),
        )
        data.heldout = heldout_mask(df, heldout)
    return data


@styled
def draw_surface(data: SurfaceData, ax=None):
    """Draw :class:`SurfaceData`. Artists carry gids: runs, heldout."""
    from matplotlib import patheffects
    from matplotlib.colors import BoundaryNorm
    from matplotlib.lines import Line2D

    levels = data.levels
    colours = cmap("viridis", 0.0, 0.95)
    norm = BoundaryNorm(levels, colours.N, extend="max")
    if ax is None:
        fig, axs = new_figure((6.4, 5.0))
        ax = axs[0, 0]
    else:
        fig = ax.figure
    cf = ax.contourf(data.N, data.D, data.loss, levels=levels, cmap=colours, norm=norm, extend="max")
    cs = ax.contour(data.N, data.D, data.loss, levels=levels[::2], colors="white", linewidths=0.5, alpha=0.6)
    for t in ax.clabel(cs, fmt="%.2f", fontsize=6.5, inline=True, colors="white"):
        t.set_alpha(1.0)
        t.set_path_effects([patheffects.withStroke(linewidth=1.5, foreground="0.2")])
    (n0, n1), (d0, d1) = data.n_range, data.d_range
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(n0, n1)
    ax.set_ylim(d0, d1)

    # isoFLOP lines, labelled where they leave the top of the plot (or the right edge)
    x = data.N[0]
    for c in data.budgets:
        y = c / (6 * x)
        inside = (y >= d0) & (y <= d1)
        if not inside.any():
            continue
        ax.plot(x[inside], y[inside], color="white", lw=0.8, ls=(0, (5, 3)), alpha=0.9, zorder=2)
        xi, yi = x[inside][0], y[inside][0]  # entry point: top edge or left edge
        t = ax.annotate(
            flops_text(c),
            (xi, yi),
            xytext=(3, -3),
            textcoords="offset points",
            fontsize=7,
            color="white",
            ha="left",
            va="top",
            zorder=3,
        )
        t.set_path_effects([patheffects.withStroke(linewidth=1.8, foreground="0.15")])
    ax.plot(*data.frontier, color="#d62728", lw=2.0, zorder=4)

    handles = [
        Line2D([], [], color="#d62728", lw=2.0, label="compute-optimal frontier"),
        Line2D([], [], color="0.5", lw=0.8, ls=(0, (5, 3)), label="isoFLOP line C = 6ND (FLOPs)"),
    ]
    if data.runs is not None:
        N, D, Lobs = data.runs
        hmask = data.heldout
        sc = ax.scatter(
            N[~hmask],
            D[~hmask],
            c=Lobs[~hmask],
            cmap=colours,
            norm=norm,
            s=26,
            edgecolors="black",
            linewidths=0.8,
            zorder=5,
        )
        sc.set_gid("runs")
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=5,
                mfc="0.7",
                mec="black",
                label="run, filled with its observed loss\n(blends in where the fit is good)",
            )
        )
        if hmask.any():
            sh = ax.scatter(
                N[hmask],
                D[hmask],
                c=Lobs[hmask],
                cmap=colours,
                norm=norm,
                s=40,
                marker="D",
                edgecolors="#d62728",
                linewidths=1.2,
                zorder=6,
            )
            sh.set_gid("heldout")
            handles.append(Line2D([], [], ls="", marker="D", ms=5, mfc="0.7", mec="#d62728", label="held-out run"))
    ax.set_xlabel(data.params_label)
    ax.set_ylabel("training tokens D")
    ax.set_title(data.title)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    cb_ = fig.colorbar(cf, ax=ax, pad=0.02, fraction=0.05)
    cb_.set_label(f"predicted {LOSS_LABEL}")
    return fig


def surface(law, runs=None, ax=None, *, budgets: Sequence[float] | None = None, title: str | None = None, heldout=None):
    """The loss surface as a matplotlib Figure: :func:`draw_surface` of :func:`surface_data`."""
    return draw_surface(surface_data(law, runs, budgets=budgets, title=title, heldout=heldout), ax)
