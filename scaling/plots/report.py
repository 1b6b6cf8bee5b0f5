"""One self-contained HTML page about a set of runs: the fits, their intervals, plans, every figure.

``report(runs, "report.html")`` fits the runs with a few methods (Approach 3 and Approach 2 by
default), and writes a single HTML file with

- the data: source, filters, counts and ranges of the runs;
- for each fit, its summary table (estimates and bootstrap / sampling intervals), flags and
  residuals; a comparison of the fits' exponents and allocations;
- compute-optimal plans for a few budgets under each fitted law (with intervals when the fit
  carries samples);
- every figure that applies: isoFLOP profiles, the loss surface, the frontier against published
  laws, residual diagnostics (held-out runs marked), training curves when given.

Figures are embedded as base64 PNG; the page has inline CSS only, no scripts and no network
references, so it opens offline and can be mailed as one file. It is written atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._io import atomic_write_text
from ..errors import ScalingError
from ..fit.api import fit
from ..fit.result import FitResult
from ..planner import plan_table
from ..runs import as_runs, data_fingerprint, describe_runs, load_curves
from .common import PUBLISHED, close, heldout_mask, readable, to_png_bytes
from .curves import curves as curves_figure
from .frontier import frontier
from .isoflop import isoflop
from .residuals import residuals
from .surface import surface

DEFAULT_METHODS = ("approach3", "approach2")


def has_loss_model(res: FitResult) -> bool:
    """Whether a fit models the loss (a surface), not only the allocation (Approaches 1 and 2)."""
    return res.form != "powerlaw"


# ------------------------------------------------------------------------------------------------
# HTML pieces


CSS = """
body { font: 15px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d1d1f;
       max-width: 1100px; margin: 2em auto; padding: 0 1.2em; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
.meta { color: #555; font-size: .9em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .88em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
th { background: #f4f5f7; font-weight: 600; }
td.l, th.l { text-align: left; }
.flags { color: #8a4b00; background: #fff7e6; border-left: 3px solid #f0a020; padding: .4em .8em; margin: .5em 0; }
.note { color: #555; font-size: .9em; }
.err { color: #a00; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .9em; margin-top: .3em; }
nav a { margin-right: 1em; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: .85em; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _num(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return _e(v)
    if not math.isfinite(v):
        return "–"
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(headers)]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append(
            "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>"
        )
    out.append("</tbody></table>")
    return "".join(out)


def _fingerprints(df) -> set[str]:
    """Fingerprints of a runs table under the column sets the fitters record."""
    out = set()
    for cols in (
        ("params", "tokens", "loss"),
        ("params", "tokens", "flops", "loss"),
        ("params", "tokens", "loss", "unique_tokens"),
    ):
        try:
            out.add(data_fingerprint(df, cols))
        except (ScalingError, KeyError):
            pass
    return out


def _fit_section(res, runs_fp: set[str] | None) -> str:
    lvl = int(round(res.bootstrap.level * 100))
    rows = []
    for k, v in list(res.params.items()) + list(res.derived.items()):
        iv = res.intervals.get(k)
        rows.append([_e(k), _num(v), f"{_num(iv[0])} – {_num(iv[1])}" if iv else "–"])
    parts = [f'<h3 id="fit-{_e(res.method)}">{_e(res.method)} ({_e(res.form)} form)</h3>']
    how = []
    if res.bootstrap.n:
        how.append(
            f"{lvl}% intervals from {res.bootstrap.n} bootstrap resamples over runs (seed {res.bootstrap.seed}"
            + (f", {res.bootstrap.n_failed} failed" if res.bootstrap.n_failed else "")
            + ")"
        )
    elif res.extra.get("interval_method"):
        how.append(f"{lvl}% intervals: {res.extra['interval_method']}")
    else:
        how.append("no bootstrap: no intervals (use --bootstrap N)")
    how.append(f"{res.data.n_rows} runs; converged: {'yes' if res.converged else 'NO'}")
    if res.objective is not None:
        how.append(f"objective {_num(res.objective)}")
    how.append(f"FLOPs: {res.flops_convention}; parameters: {res.params_convention}")
    parts.append(f'<p class="note">{_e("; ".join(how))}</p>')
    health = res.health_lines()  # failed and on-bound refits, usable budgets, residual RMSE and the worst run
    if health:
        parts.append('<p class="note">' + "<br>".join(_e(h.strip()) for h in health) + "</p>")
    if runs_fp and res.data.fingerprint and res.data.fingerprint not in runs_fp and res.data.n_rows:
        parts.append(
            '<p class="flags">This fit was made on different data than the runs of this report '
            f"(fingerprint {_e(res.data.fingerprint[:12])}).</p>"
        )
    parts.append(_table(["parameter", "estimate", f"{lvl}% interval"], rows))
    if res.residuals:
        parts.append(
            '<p class="note">residuals: ' + _e(", ".join(f"{k} = {_num(v)}" for k, v in res.residuals.items())) + "</p>"
        )
    if res.flags:
        parts.append(
            '<div class="flags"><b>Flags</b><ul>'
            + "".join(f"<li>{_e(f.message)}</li>" for f in res.flags)
            + "</ul></div>"
        )
    return "\n".join(parts)


def _exponent(law) -> tuple[float, float]:
    c = 1e21
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n1, d1 = law.frontier(c)
        n2, d2 = law.frontier(c * 1.01)
    k = math.log(1.01)
    return math.log(float(n2) / float(n1)) / k, math.log(float(d2) / float(d1)) / k


def _comparison(fits) -> str:
    rows = []
    for f in fits:
        if f.plan_problem() is not None:  # no law to read exponents from; its section says why
            rows.append([_e(f.method), _e(f.form), "–", "–", "–", "–", _e(len(f.flags))])
            continue
        law = f.to_law()
        a, b = _exponent(law)
        ia = f.intervals.get("a")
        rows.append(
            [
                _e(f.method),
                _e(f.form),
                _num(a),
                f"{_num(ia[0])} – {_num(ia[1])}" if ia else "–",
                _num(b),
                _num(getattr(law, "irreducible_loss", None)),
                _e(len(f.flags)),
            ]
        )
    return _table(
        ["method", "form", "a (N_opt ∝ C^a)", "interval of a", "b (D_opt ∝ C^b)", "irreducible loss", "flags"],
        rows,
        left=2,
    )


def _plans(res, budgets) -> tuple[str, list[str]]:
    law = res.to_law(name=f"fit ({res.method})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = plan_table(budgets, law=law)
        if not law.has_loss and getattr(law, "has_frontier_loss", False):
            df["loss"] = np.asarray(law.loss_at_frontier(df["flops"].to_numpy()), dtype=float)
    notes = sorted({str(w.message) for w in caught})
    has_iv = "params_lo" in df.columns
    rows = []
    for _, r in df.iterrows():
        row = [
            _num(r["flops"], 3),
            _num(r["params"]),
            _num(r["tokens"]),
            _num(r["tokens_per_param"], 3),
            _num(r["loss"]) if "loss" in df.columns else "–",
        ]
        if has_iv:
            row.append(f"{_num(r['params_lo'])} – {_num(r['params_hi'])}")
            row.append(f"{_num(r['tokens_lo'])} – {_num(r['tokens_hi'])}")
            row.append(f"{_num(r['loss_lo'])} – {_num(r['loss_hi'])}" if "loss_lo" in df.columns else "–")
        rows.append(row)
    heads = ["FLOPs", "params N", "tokens D", "tokens/param", "loss (nats/token)"]
    if has_iv:
        heads += ["N interval", "D interval", "loss interval"]
    return _table(heads, rows, left=0), notes


def _figure_html(fig, caption: str, ident: str, dpi: float) -> str:
    png = to_png_bytes(fig, dpi=dpi)
    close(fig)
    b64 = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="{_e(ident)}"><img alt="{_e(caption)}" src="data:image/png;base64,{b64}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def default_budgets(runs) -> list[float]:
    """Three budgets from just above the largest run: 10^e, 10^(e+2), 10^(e+4)."""
    cmax = float(np.max(np.asarray(runs["flops"], dtype=float)))
    e = math.ceil(math.log10(cmax) + 1e-9)
    return [10.0**e, 10.0 ** (e + 2), 10.0 ** (e + 4)]


# ------------------------------------------------------------------------------------------------
# the report


def report(
    runs,
    out_html: str | Path,
    *,
    fits: Sequence[Any] | None = None,
    budgets: Sequence[float] | None = None,
    curves=None,
    heldout=None,
    bootstrap: int = 0,
    seed: int = 0,
    compare: Sequence[str] | None = None,
    title: str | None = None,
    dpi: float = 110,
) -> Path:
    """Write one self-contained HTML report about ``runs``; returns its path.

    runs: a runs DataFrame (``load_runs``) or a path.
    fits: method names and/or FitResults (default: approach3 and approach2). A method that cannot
        fit these runs (an isoFLOP method on runs without isoFLOP budgets) is reported as such; if
        none can, it is an error.
    budgets: FLOP budgets to plan for (default 10^e, 10^(e+2), 10^(e+4) above the largest run).
    curves: optional training curves (``load_curves``) for the curves figure and an Approach 1 fit.
    heldout: runs to hold out of the fits made here and mark in the residual plots (a query string,
        a boolean mask or a DataFrame of runs).
    bootstrap, seed: for the fits made here.
    compare: published laws on the frontier figure (default chinchilla-2022, epoch-2024, kaplan-2020).
    """
    df = as_runs(runs)
    if len(df) == 0:
        raise ScalingError("report: the runs table is empty")
    out_html = Path(out_html)
    if out_html.suffix.lower() not in (".html", ".htm"):
        raise ScalingError(f"--out {str(out_html)!r}: the report is an HTML page; name it .html")
    hmask = heldout_mask(df, heldout)
    train = df.loc[~hmask] if hmask.any() else df
    if hmask.any():
        train.attrs = dict(df.attrs)
    compare = tuple(PUBLISHED if compare is None else compare)
    budgets = [float(b) for b in (budgets or default_budgets(df))]
    notes: list[str] = []

    # --- fits ------------------------------------------------------------------------------
    done: list[FitResult] = []
    for item in fits if fits is not None else DEFAULT_METHODS:
        if isinstance(item, FitResult):
            done.append(item)
            continue
        if isinstance(item, (str, Path)) and str(item).lower().endswith(".json"):
            done.append(FitResult.load(item))
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                done.append(fit(train, method=str(item), bootstrap=bootstrap, seed=seed))
        except ScalingError as exc:
            notes.append(f"{item}: not fitted: {exc}")
    if not done:
        raise ScalingError("report: no method could fit these runs (" + "; ".join(notes) + ")")
    curve_fit = None
    cdf = None
    if curves is not None:
        cdf = curves if hasattr(curves, "columns") and "run_id" in curves.columns else load_curves(curves)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                curve_fit = fit(cdf, method="approach1", bootstrap=bootstrap, seed=seed)
            done.append(curve_fit)
        except ScalingError as exc:
            notes.append(f"approach1 (training curves): not fitted: {exc}")

    # --- figures -----------------------------------------------------------------------------
    loss_fits = [f for f in done if has_loss_model(f)]
    a2 = next((f for f in done if f.method == "approach2"), None)
    figs: list[str] = []

    def add(make, caption, ident):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fig = make()
            figs.append(_figure_html(fig, caption, ident, dpi))
        except ScalingError as exc:
            notes.append(f"figure '{caption}' skipped: {exc}")

    if a2 is not None:
        lf = loss_fits[0] if loss_fits else None
        add(
            lambda: isoflop(df, fit=a2, law=lf),
            "IsoFLOP profiles: runs per budget, parabola fits (Approach 2), minima"
            + (f" and the {lf.method} prediction (dashed)" if lf else ""),
            "fig-isoflop",
        )
    for f in loss_fits[:1]:
        add(
            lambda f=f: surface(f, df, heldout=hmask if hmask.any() else None),
            f"Loss surface of the {f.method} fit with the runs (fill = observed loss)",
            f"fig-surface-{f.method}",
        )
    for f in done:
        problem = f.plan_problem()
        if problem is not None:
            notes.append(f"no frontier figure for the {f.method} fit: it cannot plan ({problem})")
            continue
        add(
            lambda f=f: frontier(f, compare=compare),
            f"Compute-optimal frontier of the {f.method} fit against published laws",
            f"fig-frontier-{f.method}",
        )
    for f in loss_fits:
        add(
            lambda f=f: residuals(df, f, heldout=hmask if hmask.any() else None),
            f"Residuals of the {f.method} fit" + (" (held-out runs marked)" if hmask.any() else ""),
            f"fig-residuals-{f.method}",
        )
    if cdf is not None:
        add(lambda: curves_figure(cdf, fit=curve_fit), "Training curves with the Approach 1 envelope", "fig-curves")

    # --- page ----------------------------------------------------------------------------------
    desc = describe_runs(df)
    meta = df.attrs.get("scaling", {}) or {}
    src = str(meta.get("source") or "runs")
    fp = data_fingerprint(df, ("params", "tokens", "loss"))
    train_fp = _fingerprints(train)
    page_title = title or f"Scaling-law report: {Path(src).name}"
    when = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    P: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(page_title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(page_title)}</h1>",
        f'<p class="meta">{_e(desc["n_runs"])} runs from {_e(src)}; generated {_e(when)} by scaling '
        f"{_e(__version__)}; data fingerprint {_e(fp[:16])}</p>",
        '<nav><a href="#data">Data</a><a href="#fits">Fits</a><a href="#plans">Plans</a>'
        '<a href="#figures">Figures</a></nav>',
    ]
    # data
    P.append('<h2 id="data">Data</h2>')
    rows = []
    for c in ("params", "tokens", "flops", "loss"):
        if c in desc:
            r = desc[c]
            rows.append([_e(c), _num(r["min"]), _num(r["max"]), _e(r["n_distinct"])])
    P.append(_table(["column", "min", "max", "distinct values"], rows))
    extra = []
    if "n_sizes" in desc:
        extra.append(f"{desc['n_sizes']} model sizes")
    if "n_budgets" in desc:
        extra.append(f"{desc['n_budgets']} FLOP budgets (values within 5% grouped)")
    if "tokens_per_param" in desc:
        t = desc["tokens_per_param"]
        extra.append(f"tokens per parameter {_num(t['min'], 3)} – {_num(t['max'], 3)} (median {_num(t['median'], 3)})")
    if meta.get("columns"):
        extra.append("columns: " + ", ".join(f"{k} ← {v}" for k, v in meta["columns"].items()))
    for f in meta.get("filters", []) or []:
        extra.append(f"filter: {f}")
    for n in meta.get("notes", []) or []:
        extra.append(f"note: {n}")
    if hmask.any():
        extra.append(f"{int(hmask.sum())} runs held out of the fits made here (marked in the residual plots)")
    P.append("<ul>" + "".join(f"<li>{_e(x)}</li>" for x in extra) + "</ul>")
    # fits
    P.append('<h2 id="fits">Fits</h2>')
    if len(done) > 1:
        P.append(_comparison(done))
    for f in done:
        P.append(_fit_section(f, None if f is curve_fit else train_fp))
    if hmask.any() and loss_fits:
        P.append("<h3>Held-out runs</h3>")
        ho = df.loc[hmask]
        rows = []
        heads = ["run", "params", "tokens", "observed loss"]
        preds = {}
        for f in loss_fits:
            heads.append(f"{f.method} (error)")
            preds[f.method] = np.asarray(f.to_law().loss(ho["params"].to_numpy(float), ho["tokens"].to_numpy(float)))
        for i, (_, r) in enumerate(ho.iterrows()):
            row = [_e(r.get("run_id", i)), _num(r["params"]), _num(r["tokens"]), _num(r["loss"])]
            for f in loss_fits:
                p = float(np.atleast_1d(preds[f.method])[i])
                row.append(f"{_num(p)} ({(p / float(r['loss']) - 1) * 100:+.1f}%)")
            rows.append(row)
        P.append(_table(heads, rows))
    # plans
    P.append('<h2 id="plans">Compute-optimal plans</h2>')
    P.append(
        '<p class="note">Budgets in training FLOPs under each fit\'s own convention; intervals from the '
        "fit's samples where it has them.</p>"
    )
    for f in done:
        P.append(f"<h3>{_e(f.method)}</h3>")
        problem = f.plan_problem()
        if problem is not None:
            P.append(f'<p class="err">This fit cannot plan: {_e(problem)}</p>')
            continue
        try:
            tbl, pnotes = _plans(f, budgets)
            P.append(tbl)
            for n in pnotes:
                P.append(f'<p class="note">{_e(n)}</p>')
        except ScalingError as exc:
            P.append(f'<p class="err">{_e(exc)}</p>')
    # figures
    P.append('<h2 id="figures">Figures</h2>')
    P += figs
    if notes:
        P.append('<h2 id="notes">Notes</h2><ul>' + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    P.append(
        '<p class="meta">Units: parameters (embeddings included unless noted), tokens, training FLOPs for the '
        "whole run, loss in nats per token.</p></body></html>"
    )
    return readable(atomic_write_text(out_html, "\n".join(P) + "\n"))


__all__ = ["report", "default_budgets", "has_loss_model", "DEFAULT_METHODS"]
