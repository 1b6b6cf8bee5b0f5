"""Diagnostics of a fitted loss law: predicted against observed, and relative residuals against N,
D and C, with held-out runs marked. :func:`residuals_data` computes, :func:`draw_residuals` draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .common import (
    FLOPS_LABEL,
    LOSS_LABEL,
    as_law,
    fit_of,
    heldout_mask,
    new_figure,
    params_label,
    require_loss,
    runs_table,
    source_name,
    styled,
)


@dataclass
class ResidualsData:
    """Every run's observed and predicted loss; residuals are observed / predicted - 1, in percent."""

    law: str
    params: np.ndarray
    tokens: np.ndarray
    flops: np.ndarray
    observed: np.ndarray
    predicted: np.ndarray
    heldout: np.ndarray  # bool per run
    params_label: str = "parameters N"
    title: str = ""

    @property
    def residual_pct(self) -> np.ndarray:
        return (self.observed / self.predicted - 1.0) * 100.0

    @property
    def n_runs(self) -> int:
        return int(len(self.observed))

    @property
    def n_heldout(self) -> int:
        return int(self.heldout.sum())

    @property
    def rms_rel_train(self) -> float:
        return _rms(self.residual_pct[~self.heldout])

    @property
    def rms_rel_heldout(self) -> float | None:
        return _rms(self.residual_pct[self.heldout]) if self.heldout.any() else None


def _rms(v) -> float:
    return float(np.sqrt(np.mean(v**2))) if len(v) else float("nan")


def residuals_data(runs, fit, heldout=None, *, title: str | None = None) -> ResidualsData:
    """The residual figure's data (no drawing).

    runs: the runs to show (those the law was fitted on and any held out).
    fit: a FitResult with a loss model (approach3, vp, kaplan), its JSON path, or a law.
    heldout: which runs were held out of the fit: a DataFrame of runs (matched by run_id; runs
        not in ``runs`` are added), a boolean mask over ``runs``, or a query string.
    """
    df = runs_table(runs, "residuals")
    if isinstance(heldout, pd.DataFrame) and "run_id" in heldout.columns and "run_id" in df.columns:
        extra = heldout[~heldout["run_id"].isin(set(df["run_id"]))]
        if len(extra):
            df = pd.concat([df, extra[[c for c in df.columns if c in extra.columns]]])
            df.attrs = dict(runs.attrs) if hasattr(runs, "attrs") else {}
    fitr = fit_of(fit)
    law = as_law(fitr if fitr is not None else fit)
    require_loss(law, "residual diagnostics")
    if fitr is not None:
        law.name = f"fit ({fitr.method})"
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    src = source_name(df)
    return ResidualsData(
        law=law.name,
        params=N,
        tokens=D,
        flops=np.asarray(df["flops"], dtype=float),
        observed=np.asarray(df["loss"], dtype=float),
        predicted=np.asarray(law.loss(N, D), dtype=float),
        heldout=heldout_mask(df, heldout),
        params_label=params_label(law, df),
        title=title or f"Residuals of {law.name}" + (f" on {src}" if src else ""),
    )


@styled
def draw_residuals(data: ResidualsData):
    """Draw :class:`ResidualsData` in four panels; runs carry the gids "runs" and "heldout"."""
    from matplotlib.lines import Line2D

    obs, pred, rel, hmask = data.observed, data.predicted, data.residual_pct, data.heldout
    fig, axs = new_figure((8.0, 6.4), 2, 2)
    a0, a1, a2, a3 = axs[0, 0], axs[0, 1], axs[1, 0], axs[1, 1]
    tr = ~hmask
    lab_tr = f"fitted runs (n = {int(tr.sum())}, rms {_rms(rel[tr]):.2f}%)"
    lab_ho = f"held out (n = {int(hmask.sum())}, rms {_rms(rel[hmask]):.2f}%)"
    blue, red = "#1f4e9c", "#d62728"
    for ax, x in ((a0, pred), (a1, data.params), (a2, data.tokens), (a3, data.flops)):
        y = obs if ax is a0 else rel
        s = ax.scatter(x[tr], y[tr], s=14, color=blue, alpha=0.75, edgecolors="none", zorder=3)
        s.set_gid("runs")
        if hmask.any():
            s2 = ax.scatter(
                x[hmask], y[hmask], s=34, marker="D", facecolors="none", edgecolors=red, linewidths=1.3, zorder=4
            )
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
    for ax, xl, t in (
        (a1, data.params_label, "Residual against size"),
        (a2, "training tokens D", "Residual against tokens"),
        (a3, FLOPS_LABEL, "Residual against compute"),
    ):
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
    fig.suptitle(data.title, fontsize=10)
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    return fig


def residuals(runs, fit, heldout=None, *, title: str | None = None):
    """Residual diagnostics as a matplotlib Figure: :func:`draw_residuals` of :func:`residuals_data`."""
    return draw_residuals(residuals_data(runs, fit, heldout, title=title))
