"""Figures for scaling-law analysis: isoFLOP profiles, the loss surface, the compute-optimal
frontier with its uncertainty band, fit diagnostics and training curves.

Every function returns a matplotlib ``Figure`` (or draws into ``ax`` when given one) and attaches
what it plotted as ``fig.scaling_data`` (a dict of plain numbers and arrays), so a test or a
notebook can check the picture against the input without reading pixels. Artists that show runs
carry a ``gid`` ("runs", "heldout", "minima", "curve", "envelope") for the same purpose.

matplotlib is imported inside the functions only: ``import scaling.plots`` costs nothing, and
``scaling plan`` never loads it. Figures are built on ``matplotlib.figure.Figure`` directly, which
needs no display and no GUI backend (saving PNG uses Agg); when ``matplotlib.pyplot`` is already
imported (a notebook, an interactive session), figures are created through it so they show up.

Units on every axis: parameters (count, embeddings included unless the law says non-embedding),
training tokens, training FLOPs (whole run), loss in nats per token. ``save(fig, path)`` writes
PNG, SVG or PDF, chosen by the extension, atomically.
"""

from __future__ import annotations

import io
import math
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .errors import ScalingError

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
PUBLISHED = ("chinchilla-2022", "epoch-2024", "kaplan-2020")

# Sized for a paper: a single-column figure is ~3.3 in, a full-width one ~6.5-7 in. Fonts of 8-10 pt
# stay readable when the figure is printed at that width.
STYLE = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 7.5,
    "legend.framealpha": 0.9,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "figure.dpi": 100,
    "savefig.dpi": 200,
}

LOSS_LABEL = "loss (nats/token)"
FLOPS_LABEL = "training compute C (FLOPs)"


# ------------------------------------------------------------------------------------------------
# plumbing


def _mpl():
    import matplotlib

    return matplotlib


def _new_figure(figsize, nrows: int = 1, ncols: int = 1, **kw):
    """A constrained-layout figure and its axes, without touching pyplot unless it is in use."""
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", squeeze=False, **kw)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _styled(fn):
    """Run a plotting function under the package's style (fonts sized for a paper figure)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        mpl = _mpl()
        with mpl.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _runs(runs, what: str = "runs"):
    import pandas as pd

    from .runs import as_runs

    if runs is None:
        raise ScalingError(f"{what}: no runs given")
    df = as_runs(runs)
    if not isinstance(df, pd.DataFrame) or len(df) == 0:
        raise ScalingError(f"{what}: the runs table is empty")
    return df


def _as_fit(fit):
    """A FitResult from a FitResult, a path to its JSON, or None."""
    if fit is None:
        return None
    from .fit.result import FitResult

    if isinstance(fit, FitResult):
        return fit
    if isinstance(fit, (str, Path)):
        return FitResult.load(fit)
    return None


def _as_law(obj, what: str = "law"):
    """A Law from a Law, a registered name, a fit/law JSON path, or a FitResult."""
    if obj is None:
        return None
    from .fit.result import FitResult
    from .laws import Law, get_law

    if isinstance(obj, Law):
        return obj
    if isinstance(obj, FitResult):
        return obj.to_law(name=f"fit ({obj.method})")
    if isinstance(obj, (str, Path)):
        return get_law(str(obj))
    raise ScalingError(f"{what}: expected a law, a law name, a fit result or a fit .json file, "
                       f"got {type(obj).__name__}")


def _require_loss(law, what: str):
    if not getattr(law, "has_loss", False):
        raise ScalingError(f"{what} needs a law with a loss model L(N, D) (approach3, vp, kaplan or a published "
                           f"law); {law.name!r} ({law.form}) is an allocation only")


def _source_name(df) -> str:
    src = (getattr(df, "attrs", {}) or {}).get("scaling", {}).get("source", "")
    return Path(str(src)).name if src and not str(src).startswith("<") else ""


def _params_label(law=None, df=None) -> str:
    conv = None
    if law is not None:
        conv = getattr(law, "params_convention", None)
    if df is not None:
        conv = (df.attrs.get("scaling", {}) or {}).get("params_convention", conv)
    return "parameters N (non-embedding)" if conv == "non_embedding" else "parameters N"


def _cmap(name: str = "viridis", lo: float = 0.0, hi: float = 0.88):
    """A colormap truncated before its palest colours (yellow is unreadable on white)."""
    mpl = _mpl()
    from matplotlib.colors import ListedColormap

    base = mpl.colormaps[name]
    return ListedColormap(base(np.linspace(lo, hi, 256)), name=f"{name}_trunc")


def _flops_text(c: float) -> str:
    """1e20 -> '1e20', 2.56e19 -> '2.6e19' (compact labels for budgets)."""
    if not np.isfinite(c) or c <= 0:
        return str(c)
    e = int(math.floor(math.log10(c)))
    m = c / 10 ** e
    if abs(m - round(m)) < 0.05:
        m = round(m)
        return f"1e{e}" if m == 1 else f"{m:d}e{e}"
    return f"{m:.1f}e{e}"


def _offsets_count(ax, gid: str) -> int:
    n = 0
    for coll in ax.collections:
        if coll.get_gid() == gid:
            n += len(coll.get_offsets())
    return n


def save(fig, path: str | Path, *, dpi: float | None = None) -> Path:
    """Write a figure as PNG, SVG or PDF (by the extension of ``path``), atomically."""
    from ._io import atomic_write_bytes

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ScalingError(f"--out {str(path)!r}: unknown image type {path.suffix or '(no extension)'!r}; "
                           "use .png, .svg or .pdf")
    buf = io.BytesIO()
    mpl = _mpl()
    # a stable SVG/PDF (no creation date, fixed ids) so regenerated figures do not churn in git
    with mpl.rc_context({"svg.hashsalt": "scaling", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=dpi or STYLE["savefig.dpi"], metadata=_metadata(fmt))
    return readable(atomic_write_bytes(path, buf.getvalue()))


def readable(path: Path) -> Path:
    """Give a file written through a private temporary file the mode a plain open() would (umask)."""
    import os

    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:
        pass
    return path


def _metadata(fmt: str) -> dict:
    if fmt == "png":
        return {"Software": "scaling (matplotlib)"}
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None}
    return {}


def close(fig) -> None:
    """Release a figure (needed only when pyplot created it)."""
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close(fig)


def to_png_bytes(fig, dpi: float = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# isoFLOP profiles


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


@_styled
def isoflop(runs, fit=None, law=None, ax=None, *, title: str | None = None, show_frontier: bool = True):
    """IsoFLOP profiles: loss against parameters, one colour per FLOP budget.

    Draws the observed runs (filled: inside the parabola window of Approach 2; hollow: outside
    it), each budget's parabola in log N, the per-budget minima (a flagged budget's minimum is a
    grey cross), the Approach 2 frontier through the minima when the fit has a loss curve, and
    ``law``'s prediction along the same isoFLOP lines (dashed).

    runs: a runs DataFrame (``load_runs``) or a path.
    fit: an Approach 2 FitResult (or its JSON path): its budget grouping, parabola window and
        minima are used; without one, Approach 2 is fitted here with its defaults. A fit with a
        loss model (approach3, vp, kaplan) is used as ``law`` when no ``law`` is given.
    law: a law, a registered name, a fit JSON path or a FitResult with a loss model.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    from .fit.approach2 import assign_budgets, isoflop_minimum

    df = _runs(runs, "isoflop")
    fit = _as_fit(fit)
    if law is None and fit is not None and fit.form != "powerlaw":
        law = fit
    if fit is None or fit.method != "approach2":
        # the parabolas, minima and frontier of an Approach 2 fit with its defaults; runs that
        # have no valid isoFLOP minimum still get their profiles drawn
        try:
            import warnings

            from .fit.approach2 import fit_approach2

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = fit_approach2(df)
        except ScalingError:
            fit = None
    law = _as_law(law)
    if law is not None:
        _require_loss(law, "the isoFLOP prediction")
    opts = _budget_options(fit)
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    C = np.asarray(df["flops"], dtype=float)
    budgets = opts["budgets"]
    bidx, Cb, mode = assign_budgets(C, budgets=budgets, tol=float(opts["tol"]),
                                    bins_per_decade=float(opts["bins_per_decade"]), min_points=int(opts["min_points"]))
    logN, logD = np.log(N), np.log(D)
    fit_budgets = (fit.extra.get("budgets") if fit is not None and fit.method == "approach2" else None) or []

    if ax is None:
        fig, axs = _new_figure((6.6, 4.6))
        ax = axs[0, 0]
    else:
        fig = ax.figure
    cmap = _cmap("viridis")
    norm = LogNorm(vmin=float(Cb.min()), vmax=float(Cb.max()) if Cb.max() > Cb.min() else float(Cb.min()) * 10)

    data: dict[str, Any] = {"kind": "isoflop", "n_runs": int(len(df)), "budgets": [], "n_budgets": int(len(Cb)),
                            "budget_mode": mode, "law": getattr(law, "name", None)}
    drawn = 0
    any_hollow = any_flagged = any_min = any_parabola = False
    y_lo, y_hi = [], []
    for k, cb in enumerate(Cb):
        m = bidx == k
        if not m.any():
            continue
        col = cmap(norm(cb))
        prof = isoflop_minimum(logN[m], L[m], logD[m], window=opts["window"], min_points=int(opts["min_points"]))
        used = np.asarray(prof["used"], dtype=bool)
        xs, ys = N[m], L[m]
        sc = ax.scatter(xs[used], ys[used], s=16, color=col, edgecolors="none", zorder=3)
        sc.set_gid("runs")
        if (~used).any():
            any_hollow = True
            sc2 = ax.scatter(xs[~used], ys[~used], s=16, facecolors="none", edgecolors=col, linewidths=0.9,
                             zorder=3)
            sc2.set_gid("runs")
        drawn += int(m.sum())
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
        entry = {"C": float(cb), "n_runs": int(m.sum()), "n_used": int(used.sum()), "N_opt": nopt, "loss_opt": lopt,
                 "flagged": flagged, "reason": (fb or prof).get("reason", "")}
        if nopt and lopt is not None and curv is not None and curv > 0 and used.sum() >= 2:
            x0 = math.log(nopt)
            xu = logN[m][used]
            xg = np.linspace(min(xu.min(), x0) - 0.15, max(xu.max(), x0) + 0.15, 80)
            ax.plot(np.exp(xg), lopt + curv * (xg - x0) ** 2, color=col, lw=1.2, alpha=0.9, zorder=2)
            entry["parabola"] = {"logN_opt": x0, "loss_opt": lopt, "curvature": curv}
            any_parabola = True
        if nopt and lopt is not None:
            if flagged:
                any_flagged = True
                mk = ax.scatter([nopt], [lopt], marker="x", s=30, color="0.45", linewidths=1.2, zorder=5)
                mk.set_gid("flagged_minima")
            else:
                any_min = True
                mk = ax.scatter([nopt], [lopt], marker="*", s=90, color=col, edgecolors="black", linewidths=0.6,
                                zorder=6)
                mk.set_gid("minima")
        if law is not None:
            xr = np.linspace(logN[m].min(), logN[m].max(), 60)
            dfun = _isoflop_D_of_N(logN[m], logD[m], math.log(cb))
            pred = np.asarray(law.loss(np.exp(xr), np.exp(dfun(xr))), dtype=float)
            ax.plot(np.exp(xr), pred, color=col, lw=1.0, ls=(0, (4, 2)), zorder=2)
            entry["law_loss_min"] = float(np.min(pred))
            entry["law_N_min"] = float(np.exp(xr[int(np.argmin(pred))]))
        data["budgets"].append(entry)

    frontier_line = None
    if show_frontier and fit is not None and fit.method == "approach2":
        flaw = fit.to_law()
        if getattr(flaw, "has_frontier_loss", False):
            ok = [b for b in data["budgets"] if not b["flagged"] and b["N_opt"]]
            if len(ok) >= 2:
                cg = np.geomspace(min(b["C"] for b in ok), max(b["C"] for b in ok), 50)
                nf, _ = flaw.frontier(cg)
                lf = flaw.loss_at_frontier(cg)
                ax.plot(nf, lf, color="black", lw=1.0, ls=":", zorder=4)
                frontier_line = f"Approach 2 frontier, $N_{{opt}} \\propto C^{{{flaw.a:.3f}}}$"
    data["n_points_drawn"] = _offsets_count(ax, "runs")
    data["n_minima"] = _offsets_count(ax, "minima")

    ax.set_xscale("log")
    ax.set_xlabel(_params_label(law, df))
    ax.set_ylabel(LOSS_LABEL)
    # the valley floors are what matters; the far walls of wide sweeps reach several nats higher
    lo, hi = min(y_lo), max(y_hi)
    span = hi - lo
    ytop = max(float(np.max(L)), hi) if float(np.max(L)) <= hi + 0.6 * span else hi + 0.6 * span
    ax.set_ylim(lo - 0.05 * span, ytop + 0.03 * span)
    n_clipped = int(np.sum(L > ytop + 0.03 * span))
    data["n_points_above_view"] = n_clipped
    src = _source_name(df)
    ax.set_title(title or ("IsoFLOP profiles" + (f": {src}" if src else "")))

    # budgets whose profile has no minimum inside the sampled sizes: said on the figure and on
    # stderr, instead of legend entries for parabolas that are not there
    no_min = [b for b in data["budgets"] if b["flagged"] or "parabola" not in b]
    data["no_interior_minimum"] = [{"C": b["C"], "reason": b["reason"]} for b in no_min]
    note = None
    if no_min:
        shown = ", ".join(f"{b['C']:.3g}" for b in no_min[:4]) + (", ..." if len(no_min) > 4 else "")
        note = (f"no interior minimum at {len(no_min)} of {len(data['budgets'])} budgets ({shown} FLOPs)"
                + ("" if any_parabola else ": no parabola drawn"))
        import warnings
        why = no_min[0]["reason"] or "the profile has no minimum inside the sampled sizes"
        warnings.warn(f"isoFLOP plot: {note}; at {no_min[0]['C']:.3g} FLOPs: {why}", stacklevel=2)
    handles = [Line2D([], [], ls="", marker="o", ms=4, color="0.3",
                      label="run (in parabola fit)" if any_parabola else "run")]
    if any_hollow:
        handles.append(Line2D([], [], ls="", marker="o", ms=4, mfc="none", mec="0.3", label="run (outside window)"))
    if any_parabola:
        handles.append(Line2D([], [], color="0.3", lw=1.2, label="parabola in log N"))
    if any_min:
        handles.append(Line2D([], [], ls="", marker="*", ms=8, color="0.3", mec="black", label="isoFLOP minimum"))
    if any_flagged:
        handles.append(Line2D([], [], ls="", marker="x", ms=5, color="0.45", label="flagged budget (left out)"))
    if law is not None:
        handles.append(Line2D([], [], color="0.3", lw=1.0, ls=(0, (4, 2)), label=f"{law.name} prediction"))
    if frontier_line:
        handles.append(Line2D([], [], color="black", lw=1.0, ls=":", label=frontier_line))
    if n_clipped:
        handles.append(Line2D([], [], ls="", label=f"{n_clipped} runs above the view (loss > {ytop + 0.03 * span:.2f})"))
    if note:   # inside the axes (wrapped): a legend entry this long squeezes the plot
        import textwrap
        t = ax.text(0.5, 0.98, textwrap.fill(note, 56), transform=ax.transAxes, ha="center", va="top", fontsize=7.5,
                    color="0.2", zorder=7, bbox={"boxstyle": "round,pad=0.3", "fc": "white", "ec": "0.75", "alpha": 0.9})
        t.set_gid("no_minimum_note")
    # below the axes: the profiles fill the whole plotting area
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False,
              handlelength=2.2, columnspacing=1.2)
    from matplotlib.cm import ScalarMappable

    cb_ = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.05)
    cb_.set_label(FLOPS_LABEL)
    fig.scaling_data = data
    return fig


# ------------------------------------------------------------------------------------------------
# the loss surface


def _surface_ranges(law, df):
    if df is not None:
        N = np.asarray(df["params"], dtype=float)
        D = np.asarray(df["tokens"], dtype=float)
        return (N.min() / 2.5, N.max() * 2.5), (D.min() / 2.5, D.max() * 2.5)
    rng = law.provenance.fitted_flops or (1e18, 1e22)
    N, D = law.frontier(np.array([rng[0], rng[1]], dtype=float))
    N, D = np.atleast_1d(N), np.atleast_1d(D)
    return (N.min() / 30, N.max() * 30), (D.min() / 30, D.max() * 30)


@_styled
def surface(law, runs=None, ax=None, *, budgets: Sequence[float] | None = None, title: str | None = None,
            heldout=None):
    """Contours of L(N, D) over log N and log D, with isoFLOP lines, the frontier and the runs.

    law: a law with a loss model, a registered name, a fit JSON path or a FitResult.
    runs: optional runs to draw as points, coloured by their observed loss on the same scale as
        the contours (a run whose colour differs from the background is badly predicted).
    budgets: FLOP budgets whose isoFLOP lines (C = 6 N D) are drawn; default one per decade.
    heldout: runs to mark as held out (a DataFrame, a boolean mask over ``runs`` or a query).
    """
    from matplotlib import patheffects
    from matplotlib.colors import BoundaryNorm
    from matplotlib.lines import Line2D

    law = _as_law(law)
    _require_loss(law, "the loss surface")
    df = _runs(runs, "surface") if runs is not None else None
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
    levels = _nice_levels(zlo, zhi, 20)
    cmap = _cmap("viridis", 0.0, 0.95)
    norm = BoundaryNorm(levels, cmap.N, extend="max")

    if ax is None:
        fig, axs = _new_figure((6.4, 5.0))
        ax = axs[0, 0]
    else:
        fig = ax.figure
    cf = ax.contourf(NN, DD, Z, levels=levels, cmap=cmap, norm=norm, extend="max")
    cs = ax.contour(NN, DD, Z, levels=levels[::2], colors="white", linewidths=0.5, alpha=0.6)
    for t in ax.clabel(cs, fmt="%.2f", fontsize=6.5, inline=True, colors="white"):
        t.set_alpha(1.0)
        t.set_path_effects([patheffects.withStroke(linewidth=1.5, foreground="0.2")])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(n0, n1)
    ax.set_ylim(d0, d1)

    # isoFLOP lines, labelled where they leave the top of the plot (or the right edge)
    cmin, cmax = 6 * n0 * d0, 6 * n1 * d1
    if budgets is None:
        e0, e1 = math.ceil(math.log10(cmin)), math.floor(math.log10(cmax))
        step = max(1, int(math.ceil((e1 - e0 + 1) / 7)))
        budgets = [10.0 ** e for e in range(e0, e1 + 1, step)]
    budgets = [float(c) for c in budgets if cmin < c < cmax]
    for c in budgets:
        x = ng
        y = c / (6 * x)
        inside = (y >= d0) & (y <= d1)
        if not inside.any():
            continue
        ax.plot(x[inside], y[inside], color="white", lw=0.8, ls=(0, (5, 3)), alpha=0.9, zorder=2)
        xi, yi = x[inside][0], y[inside][0]   # entry point: top edge or left edge
        t = ax.annotate(_flops_text(c), (xi, yi), xytext=(3, -3), textcoords="offset points", fontsize=7,
                        color="white", ha="left", va="top", zorder=3)
        t.set_path_effects([patheffects.withStroke(linewidth=1.8, foreground="0.15")])

    # the efficient frontier across the plotted compute range
    cg = np.geomspace(cmin, cmax, 200)
    with np.errstate(all="ignore"):
        import warnings

        from .errors import OutOfRangeWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            fn, fd = law.frontier(cg)
    fn, fd = np.asarray(fn), np.asarray(fd)
    keep = (fn >= n0) & (fn <= n1) & (fd >= d0) & (fd <= d1)
    ax.plot(fn[keep], fd[keep], color="#d62728", lw=2.0, zorder=4)

    data: dict[str, Any] = {"kind": "surface", "law": law.name, "levels": list(map(float, levels)),
                            "budgets": budgets, "frontier_points": int(keep.sum()), "n_runs": 0}
    handles = [Line2D([], [], color="#d62728", lw=2.0, label="compute-optimal frontier"),
               Line2D([], [], color="0.5", lw=0.8, ls=(0, (5, 3)), label="isoFLOP line C = 6ND (FLOPs)")]
    if df is not None:
        hmask = _heldout_mask(df, heldout)
        N = np.asarray(df["params"], dtype=float)
        D = np.asarray(df["tokens"], dtype=float)
        Lobs = np.asarray(df["loss"], dtype=float)
        sc = ax.scatter(N[~hmask], D[~hmask], c=Lobs[~hmask], cmap=cmap, norm=norm, s=26, edgecolors="black",
                        linewidths=0.8, zorder=5)
        sc.set_gid("runs")
        handles.append(Line2D([], [], ls="", marker="o", ms=5, mfc="0.7", mec="black",
                              label="run, filled with its observed loss\n(blends in where the fit is good)"))
        if hmask.any():
            sh = ax.scatter(N[hmask], D[hmask], c=Lobs[hmask], cmap=cmap, norm=norm, s=40, marker="D",
                            edgecolors="#d62728", linewidths=1.2, zorder=6)
            sh.set_gid("heldout")
            handles.append(Line2D([], [], ls="", marker="D", ms=5, mfc="0.7", mec="#d62728", label="held-out run"))
        data["n_runs"] = int(len(df))
        data["n_points_drawn"] = _offsets_count(ax, "runs") + _offsets_count(ax, "heldout")
    ax.set_xlabel(_params_label(law, df))
    ax.set_ylabel("training tokens D")
    src = _source_name(df) if df is not None else ""
    ax.set_title(title or f"Loss surface of {law.name}" + (f" with runs of {src}" if src else ""))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    cb_ = fig.colorbar(cf, ax=ax, pad=0.02, fraction=0.05)
    cb_.set_label(f"predicted {LOSS_LABEL}")
    fig.scaling_data = data
    return fig


def _nice_levels(lo: float, hi: float, n: int = 14) -> np.ndarray:
    span = max(hi - lo, 1e-6)
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((s * mag for s in (1, 2, 2.5, 5, 10) if s * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    stop = math.ceil(hi / step) * step
    return np.round(np.arange(start, stop + step / 2, step), 10)


# ------------------------------------------------------------------------------------------------
# the compute-optimal frontier


def _local_exponent(law, c: float) -> float:
    n1, _ = law.frontier(c)
    n2, _ = law.frontier(c * 1.01)
    return math.log(float(n2) / float(n1)) / math.log(1.01)


@_styled
def frontier(fit_or_law, compare: Sequence[str] = PUBLISHED, *, flops: Sequence[float] | None = None,
             level: float = 0.95, title: str | None = None, axes=None):
    """N_opt(C), D_opt(C) and tokens per parameter against C: the fit with its band, and published laws.

    fit_or_law: a FitResult (or its JSON path), a law or a registered law name. Its samples
        (bootstrap or sampling distribution) give the shaded ``level`` band; an Approach 2 fit also
        shows its per-budget minima and an Approach 1 fit its envelope points.
    compare: registered laws drawn for comparison (dashed).
    flops: the compute range (two values); default from a tenth of the smallest fitted budget
        to 10^4 times the largest (at least 1e25).
    axes: two or three Axes to draw into (N_opt, D_opt[, tokens per parameter]).
    """
    import warnings

    from .errors import OutOfRangeWarning

    fit = _as_fit(fit_or_law) if isinstance(fit_or_law, (str, Path)) and str(fit_or_law).lower().endswith(".json") \
        else (fit_or_law if _is_fit(fit_or_law) else None)
    law = _as_law(fit if fit is not None else fit_or_law)
    if fit is not None:
        law.name = f"fit ({fit.method})"
    rng = law.provenance.fitted_flops
    if flops is not None:
        c0, c1 = float(min(flops)), float(max(flops))
        if not (0 < c0 < c1 and np.isfinite(c1)):
            raise ScalingError(f"frontier: the compute range {flops} must be two different positive numbers")
    elif rng:
        c0, c1 = rng[0] / 10, max(rng[1] * 1e4, 1e25)
    else:
        c0, c1 = 1e17, 1e26
    C = np.geomspace(c0, c1, 160)

    if axes is None:
        fig, axs = _new_figure((10.0, 3.9), 1, 3)
        panels = [axs[0, 0], axs[0, 1], axs[0, 2]]
    else:
        panels = list(axes)
        if len(panels) not in (2, 3):
            raise ScalingError("frontier: give two or three Axes (N_opt, D_opt[, tokens per parameter])")
        fig = panels[0].figure
    npan = len(panels)

    def curves_of(l):
        n, d = (np.broadcast_to(np.asarray(v, dtype=float), C.shape) for v in l.frontier(C))
        return np.stack([n, d, d / n])

    data: dict[str, Any] = {"kind": "frontier", "law": law.name, "flops": [c0, c1], "compare": [], "band": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        Y = curves_of(law)
        band = law.interval(curves_of, level)
    main = "#1f4e9c"
    inside = np.ones_like(C, dtype=bool) if not rng else (C >= rng[0] * 0.999) & (C <= rng[1] * 1.001)
    label = f"{law.name}: a = {_local_exponent(law, float(np.sqrt(c0 * c1))):.3f}"
    for k, ax in enumerate(panels):
        if band is not None:
            ax.fill_between(C, band[0][k], band[1][k], color=main, alpha=0.2, lw=0, zorder=1)
        ax.plot(np.where(inside, C, np.nan), Y[k], color=main, lw=2.0, zorder=4)
        if rng:
            # dashed beyond the fitted range; one grid step of overlap keeps the line continuous
            outside = ~inside
            outside |= np.convolve(outside.astype(float), np.ones(3), mode="same") > 0
            ax.plot(np.where(outside, C, np.nan), Y[k], color=main, lw=1.4, ls="--", zorder=4)
            ax.axvspan(rng[0], rng[1], color="0.85", alpha=0.5, lw=0, zorder=0)
    if band is not None:
        data["band"] = True
        data["band_lo"] = band[0].tolist()
        data["band_hi"] = band[1].tolist()
    data["N_opt"] = Y[0].tolist()
    data["D_opt"] = Y[1].tolist()
    data["C"] = C.tolist()

    # the points the fit was made from
    npts = 0
    pts = None
    if fit is not None and fit.method == "approach2":
        bs = [b for b in fit.extra.get("budgets", []) if not b.get("flagged") and b.get("N_opt")]
        if bs:
            cc = np.array([b["C"] for b in bs])
            nn = np.array([b["N_opt"] for b in bs])
            dd = np.array([b["D_opt"] if b.get("D_opt") else b["C"] / (6 * b["N_opt"]) for b in bs])
            pts = (cc, nn, dd, 22)
    elif fit is not None and fit.method == "approach1":
        env = [e for e in fit.extra.get("envelope", []) if e.get("used") and e.get("N") and e.get("D")]
        if env:
            pts = (np.array([e["C"] for e in env]), np.array([e["N"] for e in env]),
                   np.array([e["D"] for e in env]), 10)
    if pts is not None:
        cc, nn, dd, size = pts
        for ax, y in zip(panels, (nn, dd, dd / nn)):
            s = ax.scatter(cc, y, s=size, color=main, edgecolors="white", linewidths=0.6, zorder=6)
            s.set_gid("minima")
        npts = len(cc)
    data["n_fit_points"] = npts

    styles = [("#d62728", (0, (6, 2))), ("#2ca02c", (0, (3, 1.5))), ("#9467bd", (0, (1, 1.2))),
              ("#8c564b", (0, (6, 2, 1, 2))), ("#e377c2", (0, (2, 2)))]
    from .laws import get_law

    for i, name in enumerate(compare or ()):
        other = get_law(name)
        if other.name == law.name:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            try:
                Y2 = curves_of(other)
            except ScalingError:
                continue
        col, ls = styles[i % len(styles)]
        suffix = " (non-embedding N)" if getattr(other, "params_convention", "total") == "non_embedding" else ""
        lab = f"{other.name}{suffix}: a = {_local_exponent(other, float(np.sqrt(c0 * c1))):.2f}"
        for k, ax in enumerate(panels):
            ax.plot(C, Y2[k], color=col, ls=ls, lw=1.3, zorder=3, label=lab if k == 0 else None)
        data["compare"].append(other.name)

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=main, lw=2.0, label=label)]
    if rng:
        handles.append(Line2D([], [], color=main, lw=1.4, ls="--", label="extrapolated beyond the fitted range"))
        handles.append(Patch(color="0.85", alpha=0.5, label="compute range of the fitted runs"))
    if band is not None:
        handles.append(Patch(color=main, alpha=0.2, label=f"{int(round(level * 100))}% band ({_band_source(fit, law)})"))
    if npts:
        handles.append(Line2D([], [], ls="", marker="o", ms=5, color=main, mec="white",
                              label="isoFLOP minima" if fit.method == "approach2" else "envelope points"))
    handles += panels[0].get_legend_handles_labels()[0]
    for ax in panels:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(c0, c1)
        ax.set_xlabel(FLOPS_LABEL)
    panels[0].set_ylabel(_params_label(law).replace("parameters N", "parameters N_opt"))
    panels[1].set_ylabel("training tokens D_opt")
    panels[0].set_title("Compute-optimal model size")
    panels[1].set_title("Compute-optimal training tokens")
    if npan == 3:
        panels[2].set_ylabel("tokens per parameter D_opt / N_opt")
        panels[2].set_title("Tokens per parameter")
        _plain_log_ticks(panels[2])
    if axes is None:
        fig.suptitle(title or f"Compute-optimal frontier: {law.name} against published laws", fontsize=10)
        # below the panels: the lines fill the panels' diagonals
        fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    else:
        panels[0].legend(handles=handles, loc="upper left", fontsize=6.5)
    fig.scaling_data = data
    return fig


def _is_fit(obj) -> bool:
    from .fit.result import FitResult

    return isinstance(obj, FitResult)


def _band_source(fit, law) -> str:
    if fit is not None and fit.bootstrap.n:
        return f"bootstrap, {fit.bootstrap.n} resamples"
    if fit is not None and fit.extra.get("interval_method"):
        m = str(fit.extra["interval_method"])
        return "sampling distribution" if "OLS" in m else m
    return f"{len(law.samples)} parameter samples"


# ------------------------------------------------------------------------------------------------
# diagnostics


def _heldout_mask(df, heldout) -> np.ndarray:
    import pandas as pd

    if heldout is None:
        return np.zeros(len(df), dtype=bool)
    if isinstance(heldout, str):
        from .runs import apply_where

        sub = apply_where(df, heldout, "heldout")
        return df.index.isin(sub.index)
    if isinstance(heldout, pd.DataFrame):
        if "run_id" in heldout.columns and "run_id" in df.columns:
            return df["run_id"].isin(set(heldout["run_id"])).to_numpy()
        return df.index.isin(heldout.index)
    m = np.asarray(heldout, dtype=bool)
    if m.shape != (len(df),):
        raise ScalingError(f"heldout: a mask of {m.size} values for {len(df)} runs")
    return m


@_styled
def residuals(runs, fit, heldout=None, *, title: str | None = None):
    """Diagnostics of a fitted loss law: predicted against observed, residuals against N, D, C.

    runs: the runs to show (those the law was fitted on and any held out).
    fit: a FitResult with a loss model (approach3, vp, kaplan), its JSON path, or a law.
    heldout: which runs were held out of the fit: a DataFrame of runs (matched by run_id; runs
        not in ``runs`` are added), a boolean mask over ``runs``, or a query string. They are
        drawn as red diamonds and summarised separately.
    Residuals are relative: observed / predicted - 1, in percent.
    """
    import pandas as pd

    from matplotlib.lines import Line2D

    df = _runs(runs, "residuals")
    if isinstance(heldout, pd.DataFrame) and "run_id" in heldout.columns and "run_id" in df.columns:
        extra = heldout[~heldout["run_id"].isin(set(df["run_id"]))]
        if len(extra):
            df = pd.concat([df, extra[[c for c in df.columns if c in extra.columns]]])
            df.attrs = dict(runs.attrs) if hasattr(runs, "attrs") else {}
    fitr = _as_fit(fit) if isinstance(fit, (str, Path)) and str(fit).lower().endswith(".json") else \
        (fit if _is_fit(fit) else None)
    law = _as_law(fitr if fitr is not None else fit)
    _require_loss(law, "residual diagnostics")
    if fitr is not None:
        law.name = f"fit ({fitr.method})"
    hmask = _heldout_mask(df, heldout)
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    C = np.asarray(df["flops"], dtype=float)
    obs = np.asarray(df["loss"], dtype=float)
    pred = np.asarray(law.loss(N, D), dtype=float)
    rel = (obs / pred - 1.0) * 100.0

    fig, axs = _new_figure((8.0, 6.4), 2, 2)
    a0, a1, a2, a3 = axs[0, 0], axs[0, 1], axs[1, 0], axs[1, 1]
    tr = ~hmask

    def rms(v):
        return float(np.sqrt(np.mean(v ** 2))) if len(v) else float("nan")

    lab_tr = f"fitted runs (n = {int(tr.sum())}, rms {rms(rel[tr]):.2f}%)"
    lab_ho = f"held out (n = {int(hmask.sum())}, rms {rms(rel[hmask]):.2f}%)"
    blue, red = "#1f4e9c", "#d62728"
    for ax, x in ((a0, pred), (a1, N), (a2, D), (a3, C)):
        y = obs if ax is a0 else rel
        s = ax.scatter(x[tr], y[tr], s=14, color=blue, alpha=0.75, edgecolors="none", zorder=3)
        s.set_gid("runs")
        if hmask.any():
            s2 = ax.scatter(x[hmask], y[hmask], s=34, marker="D", facecolors="none", edgecolors=red, linewidths=1.3,
                            zorder=4)
            s2.set_gid("heldout")
    lo = float(min(obs.min(), pred.min()))
    hi = float(max(obs.max(), pred.max()))
    pad = 0.04 * (hi - lo)
    a0.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=0.9, ls="--", zorder=2)
    a0.set_xlim(lo - pad, hi + pad)
    a0.set_ylim(lo - pad, hi + pad)
    a0.set_aspect("equal", adjustable="box")
    a0.set_xlabel(f"predicted {LOSS_LABEL}")
    a0.set_ylabel(f"observed {LOSS_LABEL}")
    a0.set_title("Observed against predicted")
    ylim = float(np.max(np.abs(rel))) * 1.12 if len(rel) else 1.0
    for ax, xl, t in ((a1, _params_label(law, df), "Residual against size"),
                      (a2, "training tokens D", "Residual against tokens"),
                      (a3, FLOPS_LABEL, "Residual against compute")):
        ax.axhline(0, color="0.3", lw=0.9, ls="--", zorder=2)
        ax.set_xscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel("observed / predicted − 1 (%)")
        ax.set_ylim(-ylim, ylim)
        ax.set_title(t)
    handles = [Line2D([], [], ls="", marker="o", ms=4, color=blue, label=lab_tr)]
    if hmask.any():
        handles.append(Line2D([], [], ls="", marker="D", ms=5, mfc="none", mec=red, label=lab_ho))
    handles.append(Line2D([], [], color="0.3", lw=0.9, ls="--", label="perfect prediction"))
    src = _source_name(df)
    fig.suptitle(title or f"Residuals of {law.name}" + (f" on {src}" if src else ""), fontsize=10)
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.scaling_data = {"kind": "residuals", "law": law.name, "n_runs": int(len(df)),
                        "n_heldout": int(hmask.sum()), "n_points_drawn": _offsets_count(a0, "runs")
                        + _offsets_count(a0, "heldout"), "rms_rel_train": rms(rel[tr]),
                        "rms_rel_heldout": rms(rel[hmask]) if hmask.any() else None,
                        "residual_pct": rel.tolist(), "heldout": hmask.tolist()}
    return fig


# ------------------------------------------------------------------------------------------------
# training curves


def _raw_envelope(df, n: int = 120):
    """Lower envelope of the curves (log-linear interpolation), without Approach 1's selection."""
    from .fit.approach1 import envelope as _env

    runs = []
    for rid, g in df.groupby("run_id", sort=False):
        g = g.sort_values("flops", kind="stable")
        runs.append({"run_id": str(rid), "N": float(np.median(g["params"])),
                     "logC": np.log(g["flops"].to_numpy(float)), "logL": np.log(g["loss"].to_numpy(float)),
                     "logD": np.log(g["tokens"].to_numpy(float))})
    lo = min(r["logC"][0] for r in runs)
    hi = max(r["logC"][-1] for r in runs)
    grid = np.linspace(lo, hi, n)
    e = _env(runs, grid)
    return [{"C": float(np.exp(c)), "loss": float(l) if np.isfinite(l) else None, "used": False,
             "winner": runs[w]["run_id"] if w >= 0 else None} for c, l, w in zip(grid, e["loss"], e["winner"])]


@_styled
def curves(curves_df, envelope: bool = True, fit=None, ax=None, *, title: str | None = None):
    """Training curves: loss against FLOPs for every run (colour = size), with the Approach 1 envelope.

    curves_df: a curves DataFrame (``load_curves``: one row per evaluation) or a path.
    envelope: draw the lower envelope; the budgets Approach 1 used for its fit (the optimum is
        bracketed by a smaller and a larger run) are marked.
    fit: an Approach 1 FitResult (or its JSON path) whose envelope to draw; fitted here otherwise.
    """
    import pandas as pd
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    from .runs import load_curves

    if isinstance(curves_df, pd.DataFrame) and {"run_id", "params", "tokens", "flops", "loss"} <= set(curves_df.columns):
        df = curves_df
    else:
        df = load_curves(curves_df)
    if len(df) == 0:
        raise ScalingError("curves: the table is empty")
    fit = _as_fit(fit)
    if fit is not None and fit.method != "approach1":
        raise ScalingError(f"curves: the fit is {fit.method}; the envelope comes from an Approach 1 fit "
                           "(scaling fit CURVES --method approach1)")
    groups = list(df.groupby("run_id", sort=False))
    sizes = np.array([float(np.median(g["params"])) for _, g in groups])
    cmap = _cmap("viridis")
    norm = LogNorm(vmin=sizes.min(), vmax=sizes.max() if sizes.max() > sizes.min() else sizes.min() * 10)
    if ax is None:
        fig, axs = _new_figure((6.6, 4.6))
        ax = axs[0, 0]
    else:
        fig = ax.figure
    order = np.argsort(sizes)
    for i in order:
        rid, g = groups[i]
        g = g.sort_values("flops", kind="stable")
        (ln,) = ax.plot(g["flops"].to_numpy(float), g["loss"].to_numpy(float), color=cmap(norm(sizes[i])), lw=1.1,
                        alpha=0.9, zorder=2)
        ln.set_gid("curve")
    data: dict[str, Any] = {"kind": "curves", "n_runs": len(groups), "n_points": int(len(df)),
                            "n_curves_drawn": sum(1 for l in ax.lines if l.get_gid() == "curve")}
    handles = [Line2D([], [], color="0.4", lw=1.1, label="training curve (colour = size)")]
    if envelope:
        env = None
        note = ""
        if fit is None:
            try:
                from .fit.approach1 import fit_approach1

                fit = fit_approach1(df)
            except ScalingError as exc:
                note = str(exc)
        if fit is not None:
            env = fit.extra.get("envelope")
        if not env:
            env = _raw_envelope(df)
        pts = [e for e in env if e.get("loss")]
        cc = np.array([e["C"] for e in pts])
        ll = np.array([e["loss"] for e in pts])
        used = np.array([bool(e.get("used")) for e in pts])
        # where the best run ends and a worse one takes over the envelope jumps up: break the line
        # there rather than draw a vertical connector that no run follows
        win = [e.get("winner") for e in pts]
        jump = np.array([i > 0 and win[i] != win[i - 1] and ll[i] > ll[i - 1] for i in range(len(pts))], dtype=bool)
        xs_, ys_ = [], []
        for i in range(len(pts)):
            if jump[i]:
                xs_.append(np.nan)
                ys_.append(np.nan)
            xs_.append(cc[i])
            ys_.append(ll[i])
        (le,) = ax.plot(xs_, ys_, color="black", lw=1.3, ls=(0, (4, 1.5)), zorder=3)
        le.set_gid("envelope")
        handles.append(Line2D([], [], color="black", lw=1.3, ls=(0, (4, 1.5)),
                              label="lower envelope (best run at each budget)"))
        if used.any():
            s = ax.scatter(cc[used], ll[used], s=9, color="black", zorder=4)
            s.set_gid("envelope_used")
            lab = "budgets used by Approach 1"
            if fit is not None:
                lab += f" ($N_{{opt}} \\propto C^{{{fit.params.get('a', float('nan')):.2f}}}$)"
            handles.append(Line2D([], [], ls="", marker="o", ms=3, color="black", label=lab))
        data["envelope_points"] = int(len(pts))
        data["envelope_used"] = int(used.sum())
        data["envelope_note"] = note
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel(FLOPS_LABEL)
    ax.set_ylabel(LOSS_LABEL)
    src = _source_name(df)
    ax.set_title(title or ("Training curves" + (f": {src}" if src else "")))
    # below the axes: where curves start high at large compute, the upper corners are taken
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    cb_ = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02, fraction=0.05)
    cb_.set_label(_params_label(None, df))
    fig.scaling_data = data
    return fig


def _plain_log_ticks(ax):
    """Decimal tick labels (2.5, 3, 3.5) on a log y axis that spans less than a decade."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    lo, hi = ax.get_ylim()
    if hi / lo > 8:
        return
    ticks = [t for t in MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


__all__ = ["isoflop", "surface", "frontier", "residuals", "curves", "save", "close", "to_png_bytes", "FORMATS",
           "PUBLISHED"]
