"""The compute-optimal frontier: N_opt(C), D_opt(C) and tokens per parameter against C, the fit with
its uncertainty band and the points it was fitted on, against published laws.
:func:`frontier_data` computes, :func:`draw_frontier` draws."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import OutOfRangeWarning, ScalingError
from ..laws import get_law
from .common import FLOPS_LABEL, PUBLISHED, as_law, fit_of, new_figure, params_label, plain_log_ticks, styled

MAIN = "#1f4e9c"
STYLES = [
    ("#d62728", (0, (6, 2))),
    ("#2ca02c", (0, (3, 1.5))),
    ("#9467bd", (0, (1, 1.2))),
    ("#8c564b", (0, (6, 2, 1, 2))),
    ("#e377c2", (0, (2, 2))),
]


@dataclass
class CompareCurve:
    """A published law's frontier (rows: N_opt, D_opt, D_opt / N_opt)."""

    name: str
    label: str
    curves: np.ndarray
    style: int  # index into STYLES (its position in ``compare``)


@dataclass
class FrontierData:
    """Everything the frontier figure shows, in plain numbers."""

    law: str
    label: str  # legend label of the fit (with its local exponent)
    C: np.ndarray
    curves: np.ndarray  # rows N_opt, D_opt, D_opt / N_opt over C
    fitted_range: tuple[float, float] | None  # compute range of the fitted runs
    level: float = 0.95
    band: tuple[np.ndarray, np.ndarray] | None = None  # (lo, hi), each shaped like ``curves``
    band_source: str = ""
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # (C, N, D) the fit was made from
    points_label: str = ""
    point_size: float = 22
    compare: list[CompareCurve] = field(default_factory=list)
    params_label: str = "parameters N"
    title: str = ""

    @property
    def N_opt(self) -> np.ndarray:
        return self.curves[0]

    @property
    def D_opt(self) -> np.ndarray:
        return self.curves[1]

    @property
    def flops(self) -> tuple[float, float]:
        return float(self.C[0]), float(self.C[-1])

    @property
    def n_fit_points(self) -> int:
        return 0 if self.points is None else int(len(self.points[0]))

    @property
    def compared(self) -> list[str]:
        return [c.name for c in self.compare]


def _local_exponent(law, c: float) -> float:
    n1, _ = law.frontier(c)
    n2, _ = law.frontier(c * 1.01)
    return math.log(float(n2) / float(n1)) / math.log(1.01)


def _band_source(fit, law) -> str:
    if fit is not None and fit.bootstrap.n:
        return f"bootstrap, {fit.bootstrap.n} resamples"
    if fit is not None and fit.extra.get("interval_method"):
        m = str(fit.extra["interval_method"])
        return "sampling distribution" if "OLS" in m else m
    return f"{len(law.samples)} parameter samples"


def frontier_data(
    fit_or_law,
    compare: Sequence[str] = PUBLISHED,
    *,
    flops: Sequence[float] | None = None,
    level: float = 0.95,
    title: str | None = None,
) -> FrontierData:
    """The frontier figure's data (no drawing).

    fit_or_law: a FitResult (or its JSON path), a law or a registered law name. Its samples
        (bootstrap or sampling distribution) give the ``level`` band; an Approach 2 fit also
        gives its per-budget minima and an Approach 1 fit its envelope points.
    compare: registered laws for comparison.
    flops: the compute range (two values); default from a tenth of the smallest fitted budget
        to 10^4 times the largest (at least 1e25).
    """
    fit = fit_of(fit_or_law)
    law = as_law(fit if fit is not None else fit_or_law)
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

    def curves_of(l):
        n, d = (np.broadcast_to(np.asarray(v, dtype=float), C.shape) for v in l.frontier(C))
        return np.stack([n, d, d / n])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        Y = curves_of(law)
        band = law.interval(curves_of, level)
    data = FrontierData(
        law=law.name,
        label=f"{law.name}: a = {_local_exponent(law, float(np.sqrt(c0 * c1))):.3f}",
        C=C,
        curves=Y,
        fitted_range=tuple(rng) if rng else None,
        level=level,
        params_label=params_label(law),
        title=title or f"Compute-optimal frontier: {law.name} against published laws",
    )
    if band is not None:
        data.band = (np.asarray(band[0]), np.asarray(band[1]))
        data.band_source = _band_source(fit, law)

    # the points the fit was made from
    if fit is not None and fit.method == "approach2":
        bs = [b for b in fit.extra.get("budgets", []) if not b.get("flagged") and b.get("N_opt")]
        if bs:
            data.points = (
                np.array([b["C"] for b in bs]),
                np.array([b["N_opt"] for b in bs]),
                np.array([b["D_opt"] if b.get("D_opt") else b["C"] / (6 * b["N_opt"]) for b in bs]),
            )
            data.points_label, data.point_size = "isoFLOP minima", 22
    elif fit is not None and fit.method == "approach1":
        env = [e for e in fit.extra.get("envelope", []) if e.get("used") and e.get("N") and e.get("D")]
        if env:
            data.points = (
                np.array([e["C"] for e in env]),
                np.array([e["N"] for e in env]),
                np.array([e["D"] for e in env]),
            )
            data.points_label, data.point_size = "envelope points", 10

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
        suffix = " (non-embedding N)" if getattr(other, "params_convention", "total") == "non_embedding" else ""
        lab = f"{other.name}{suffix}: a = {_local_exponent(other, float(np.sqrt(c0 * c1))):.2f}"
        data.compare.append(CompareCurve(other.name, lab, Y2, i))
    return data


@styled
def draw_frontier(data: FrontierData, axes=None):
    """Draw :class:`FrontierData` into three panels (or the two or three ``axes`` given: N_opt,
    D_opt[, tokens per parameter]). The fit's points carry the gid "minima"."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if axes is None:
        fig, axs = new_figure((10.0, 3.9), 1, 3)
        panels = [axs[0, 0], axs[0, 1], axs[0, 2]]
    else:
        panels = list(axes)
        if len(panels) not in (2, 3):
            raise ScalingError("frontier: give two or three Axes (N_opt, D_opt[, tokens per parameter])")
        fig = panels[0].figure
    C, Y, rng = data.C, data.curves, data.fitted_range
    inside = np.ones_like(C, dtype=bool) if not rng else (C >= rng[0] * 0.999) & (C <= rng[1] * 1.001)
    for k, ax in enumerate(panels):
        if data.band is not None:
            ax.fill_between(C, data.band[0][k], data.band[1][k], color=MAIN, alpha=0.2, lw=0, zorder=1)
        ax.plot(np.where(inside, C, np.nan), Y[k], color=MAIN, lw=2.0, zorder=4)
        if rng:
            # dashed beyond the fitted range; one grid step of overlap keeps the line continuous
            outside = ~inside
            outside |= np.convolve(outside.astype(float), np.ones(3), mode="same") > 0
            ax.plot(np.where(outside, C, np.nan), Y[k], color=MAIN, lw=1.4, ls="--", zorder=4)
            ax.axvspan(rng[0], rng[1], color="0.85", alpha=0.5, lw=0, zorder=0)
    if data.points is not None:
        cc, nn, dd = data.points
        for ax, y in zip(panels, (nn, dd, dd / nn)):
            s = ax.scatter(cc, y, s=data.point_size, color=MAIN, edgecolors="white", linewidths=0.6, zorder=6)
            s.set_gid("minima")
    for other in data.compare:
        col, ls = STYLES[other.style % len(STYLES)]
        for k, ax in enumerate(panels):
            ax.plot(C, other.curves[k], color=col, ls=ls, lw=1.3, zorder=3, label=other.label if k == 0 else None)

    handles = [Line2D([], [], color=MAIN, lw=2.0, label=data.label)]
    if rng:
        handles.append(Line2D([], [], color=MAIN, lw=1.4, ls="--", label="extrapolated beyond the fitted range"))
        handles.append(Patch(color="0.85", alpha=0.5, label="compute range of the fitted runs"))
    if data.band is not None:
        handles.append(Patch(color=MAIN, alpha=0.2, label=f"{int(round(data.level * 100))}% band ({data.band_source})"))
    if data.n_fit_points:
        handles.append(Line2D([], [], ls="", marker="o", ms=5, color=MAIN, mec="white", label=data.points_label))
    handles += panels[0].get_legend_handles_labels()[0]
    c0, c1 = data.flops
    for ax in panels:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(c0, c1)
        ax.set_xlabel(FLOPS_LABEL)
    panels[0].set_ylabel(data.params_label.replace("parameters N", "parameters N_opt"))
    panels[1].set_ylabel("training tokens D_opt")
    panels[0].set_title("Compute-optimal model size")
    panels[1].set_title("Compute-optimal training tokens")
    if len(panels) == 3:
        panels[2].set_ylabel("tokens per parameter D_opt / N_opt")
        panels[2].set_title("Tokens per parameter")
        plain_log_ticks(panels[2])
    if axes is None:
        fig.suptitle(data.title, fontsize=10)
        # below the panels: the lines fill the panels' diagonals
        fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    else:
        panels[0].legend(handles=handles, loc="upper left", fontsize=6.5)
    return fig


def frontier(
    fit_or_law,
    compare: Sequence[str] = PUBLISHED,
    *,
    flops: Sequence[float] | None = None,
    level: float = 0.95,
    title: str | None = None,
    axes=None,
):
    """The frontier as a matplotlib Figure: :func:`draw_frontier` of :func:`frontier_data`."""
    return draw_frontier(frontier_data(fit_or_law, compare, flops=flops, level=level, title=title), axes)
