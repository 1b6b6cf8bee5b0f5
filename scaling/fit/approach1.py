"""Approach 1 of Hoffmann et al. (2022): the lower envelope of training curves.

Every evaluation of every run is a point (C, L) with C the FLOPs spent so far (6 N D unless
the curves carry their own FLOPs). For a grid of budgets spaced log-uniformly over the
curves' range, each run that reaches the budget contributes its loss there (linear interpolation
of log loss in log FLOPs between its evaluations), and the run with the lowest loss wins: the
lower envelope. The winner's size N and tokens D at that budget are the compute-optimal
allocation, and power laws

    N_opt = k_N C^a,     D_opt = k_D C^b

are fitted to them by least squares in log space.

A budget tells us about the optimum only when the winner is bracketed: some run that reached
the budget is smaller and some is larger. Otherwise the optimum may lie beyond the sizes that
were running there (early in the sweep only the small models have data; late only the large
ones are still training), and the budget is left out (``select="bracketed"``, the default;
"overlap" keeps every budget that two or more runs reach, "all" every budget).

``envelope_mode="bins"`` instead takes, in each log-uniform FLOP bin, the raw evaluation with the
lowest loss (no interpolation).

On synthetic curves L(N, D) = E + A N^-alpha + B D^-beta the envelope exponent is
a = beta / (alpha + beta), the same as the surface's frontier.

Grid points are not independent (one run wins many neighbouring budgets), so plain OLS
intervals would be far too narrow; intervals come from a bootstrap over runs (``bootstrap``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.powerlaw import PowerLawAllocation
from ..planner.result import Flag
from ..runs import data_info, load_curves, require_columns
from .allocation import allocation_fit, fit_loss_frontier, table_flops_convention
from .bootstrap import RefitFailed, health, health_flags, resample_loop
from .clusters import per_run_groups
from .result import BootstrapInfo, DataInfo, FitResult


def _as_curves(curves: Any, **kw) -> pd.DataFrame:
    if (
        isinstance(curves, pd.DataFrame)
        and {"run_id", "params", "tokens", "flops", "loss"} <= set(curves.columns)
        and not kw
    ):
        return curves
    return load_curves(curves, **kw)


def _run_arrays(df: pd.DataFrame):
    runs = []
    for rid, g in df.groupby("run_id", sort=False):
        g = g.sort_values("flops", kind="stable")
        N = np.asarray(g["params"], dtype=float)
        runs.append(
            {
                "run_id": str(rid),
                "N": float(np.median(N)),
                "logC": np.log(np.asarray(g["flops"], dtype=float)),
                "logL": np.log(np.asarray(g["loss"], dtype=float)),
                "logD": np.log(np.asarray(g["tokens"], dtype=float)),
            }
        )
    return runs


def envelope(runs: list[dict], grid_logC: np.ndarray, *, mode: str = "interp") -> dict[str, np.ndarray]:
    """Lower envelope over runs at each grid budget.

    Returns arrays over the grid: loss, winner (index into runs, -1 none), logN, logD,
    n_cover (runs reaching the budget), bracketed (a smaller and a larger run reach it).
    """
    G = len(grid_logC)
    R = len(runs)
    Lmat = np.full((R, G), np.inf)
    Dmat = np.full((R, G), np.nan)
    if mode == "interp":
        for r, run in enumerate(runs):
            lc = run["logC"]
            inside = (grid_logC >= lc[0] - 1e-12) & (grid_logC <= lc[-1] + 1e-12)
            if not inside.any():
                continue
            if len(lc) == 1:
                Lmat[r, inside] = run["logL"][0]
                Dmat[r, inside] = run["logD"][0]
            else:
                Lmat[r, inside] = np.interp(grid_logC[inside], lc, run["logL"])
                Dmat[r, inside] = np.interp(grid_logC[inside], lc, run["logD"])
        cover = np.isfinite(Lmat)
    elif mode == "bins":
        half = 0.5 * (grid_logC[1] - grid_logC[0]) if G > 1 else 0.5
        for r, run in enumerate(runs):
            k = np.floor((run["logC"] - (grid_logC[0] - half)) / (2 * half)).astype(int)
            ok = (k >= 0) & (k < G)
            for kk, ll, dd in zip(k[ok], run["logL"][ok], run["logD"][ok]):
                if ll < Lmat[r, kk]:
                    Lmat[r, kk] = ll
                    Dmat[r, kk] = dd
        # a run covers a bin when its curve spans it, even without an evaluation inside
        cover = np.zeros((R, G), dtype=bool)
        for r, run in enumerate(runs):
            cover[r] = (grid_logC + half >= run["logC"][0]) & (grid_logC - half <= run["logC"][-1])
    else:
        raise ScalingError(f"envelope: {mode!r} is not 'interp' or 'bins'")
    has = np.isfinite(Lmat).any(axis=0)
    win = np.where(has, np.argmin(Lmat, axis=0), -1)
    Ns = np.array([run["N"] for run in runs])
    logN = np.where(win >= 0, np.log(Ns[np.maximum(win, 0)]), np.nan)
    logD = np.where(win >= 0, Dmat[np.maximum(win, 0), np.arange(G)], np.nan)
    loss = np.where(has, np.exp(np.min(Lmat, axis=0)), np.nan)
    n_cover = cover.sum(axis=0)
    Nc = np.where(cover, Ns[:, None], np.nan)
    with np.errstate(invalid="ignore"):
        smaller = np.nanmin(np.where(cover, Nc, np.inf), axis=0)
        larger = np.nanmax(np.where(cover, Nc, -np.inf), axis=0)
    wN = np.where(win >= 0, Ns[np.maximum(win, 0)], np.nan)
    bracketed = (win >= 0) & (smaller < wN) & (larger > wN)
    return {"loss": loss, "winner": win, "logN": logN, "logD": logD, "n_cover": n_cover, "bracketed": bracketed}


def _usable(env: dict[str, np.ndarray], select: str) -> np.ndarray:
    use = (env["winner"] >= 0) & np.isfinite(env["logD"])
    if select == "bracketed":
        use &= env["bracketed"]
    elif select == "overlap":
        use &= env["n_cover"] >= 2
    return use


def fit_approach1(
    curves: Any,
    *,
    level: float = 0.95,
    bootstrap: int = 0,
    seed: int = 0,
    points_per_decade: float = 20.0,
    envelope_mode: str = "interp",
    select: str = "bracketed",
    min_flops: float | None = None,
    max_flops: float | None = None,
    at: Sequence[float] | np.ndarray | None = None,
    flops_convention: str | None = None,
    bootstrap_by: Sequence[str] | str | None = None,
) -> FitResult:
    """Approach 1 (lower envelope of training curves) -> FitResult with form "powerlaw".

    curves: a curves DataFrame (``load_curves``: run_id, params, tokens, flops, loss per evaluation)
        or anything ``load_curves`` reads.
    points_per_decade: density of the FLOP grid (bins per decade with ``envelope_mode="bins"``).
    select: which grid budgets the power laws are fitted to: "bracketed" (default; the winner has a
        smaller and a larger run that reach the budget), "overlap" (at least two runs reach it), "all".
    bootstrap: resample runs (with replacement) this many times for percentile intervals.
    bootstrap_by: resample the groups of runs of these columns (one value per curve, e.g. ``trunk``)
        instead of runs (:mod:`scaling.fit.clusters`); a resample is the set of runs of the drawn groups.
    min_flops, max_flops: restrict the grid.
    at: budgets where N_opt, D_opt are reported (default the largest grid budget used and 100x it).

    ``extra["envelope"]``: the grid (C, loss, winner, N, D, n_cover, used); ``extra["winners"]``:
    the runs that win somewhere, with their share of the grid.
    """
    df = _as_curves(curves)
    require_columns(df, ["run_id", "params", "tokens", "flops", "loss"], "approach1")
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    if points_per_decade <= 0:
        raise ScalingError("points_per_decade must be positive")
    runs = _run_arrays(df)
    if len(runs) < 2:
        raise ScalingError(f"Approach 1 needs training curves of at least 2 runs; got {len(runs)}")
    sizes = {r["N"] for r in runs}
    if len(sizes) < 3:
        raise ScalingError(
            f"Approach 1 needs curves at 3 or more model sizes (an envelope with a bracketed optimum); got {len(sizes)}"
        )
    lo = min(float(r["logC"][0]) for r in runs)
    hi = max(float(r["logC"][-1]) for r in runs)
    if min_flops is not None:
        lo = max(lo, math.log(float(min_flops)))
    if max_flops is not None:
        hi = min(hi, math.log(float(max_flops)))
    if not hi > lo:
        raise ScalingError("approach1: the FLOP range of the curves (after min/max_flops) is empty")
    n_grid = max(int(math.ceil((hi - lo) / math.log(10) * points_per_decade)) + 1, 2)
    grid = np.linspace(lo, hi, n_grid)

    if select not in ("bracketed", "overlap", "all"):
        raise ScalingError(f"select: {select!r} is not one of bracketed, overlap, all")
    env = envelope(runs, grid, mode=envelope_mode)
    use = _usable(env, select)
    winners = np.unique(env["winner"][use])
    if use.sum() < 2 or len(winners) < 2:
        raise ScalingError(
            f"Approach 1: only {len(winners)} run(s) win the envelope where the optimum is bracketed "
            f"({int(use.sum())} of {n_grid} budgets usable); the curves need more sizes that "
            "overlap in FLOPs" + ("; try select='overlap' or 'all'" if select != "all" else "")
        )
    flags: list[Flag] = []
    if len(winners) < 4:
        flags.append(
            Flag("approach1_few_winners", f"only {len(winners)} runs win the envelope: the exponents rest on few sizes")
        )
    x = grid[use]
    yN, yD = env["logN"][use], env["logD"][use]
    if at is None:
        cmax = float(np.exp(x.max()))
        at = (cmax, 100.0 * cmax)
    at = np.asarray([float(c) for c in at], dtype=float)

    boot = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    groups = None
    if bootstrap_by is not None:
        if not bootstrap:
            raise ScalingError(f"bootstrap_by={bootstrap_by!r} groups the bootstrap's resamples: give bootstrap > 0")
        groups = per_run_groups(df, bootstrap_by, [r["run_id"] for r in runs])
    if bootstrap > 0:

        def refit(pick):
            sub = [runs[i] for i in pick]
            if len({r["N"] for r in sub}) < 3:
                raise RefitFailed("fewer than 3 sizes drawn")
            e = envelope(sub, grid, mode=envelope_mode)
            u = _usable(e, select)
            if u.sum() < 2 or len(np.unique(e["winner"][u])) < 2:
                raise RefitFailed("no usable envelope")
            X = np.column_stack([np.ones(u.sum()), grid[u]])
            beta, *_ = np.linalg.lstsq(X, np.column_stack([e["logN"][u], e["logD"][u]]), rcond=None)
            return [beta[0, 0], beta[1, 0], beta[0, 1], beta[1, 1]]

        # a run counted twice changes nothing: a resample is the set of runs drawn
        if groups is None:
            draw = lambda g: np.unique(g.integers(0, len(runs), size=len(runs)))
        else:
            draw = lambda g: np.unique(groups.draw(g))
        refits = resample_loop(int(bootstrap), seed, draw, refit, width=4)
        boot = refits.rows
        boot_info = health(int(bootstrap), seed, level, failed=refits.failed, groups=groups)  # no bounded parameters
        flags += health_flags(boot_info)
    al = allocation_fit(
        x,
        yN,
        yD,
        level=level,
        at=at,
        seed=seed,
        boot=boot,
        boot_label="bootstrap over runs" if groups is None else f"cluster bootstrap over {groups.describe()}",
        dependent=True,
    )
    logkN, a, logkD, b = al["vec"]
    flags += al["flags"]
    fconv = table_flops_convention(df, flops_convention)
    if fconv == "6nd" and abs(a + b - 1) > 0.05:
        flags.append(
            Flag("not_6nd", f"a + b = {a + b:.3f} differs from 1: tokens and FLOPs of the curves do not follow C = 6ND")
        )
    if x.max() - x.min() < math.log(10):
        flags.append(
            Flag(
                "narrow_compute_range", f"the usable envelope spans only {math.exp(x.max() - x.min()):.2g}x in compute"
            )
        )

    resid = al["resid"]
    nb = len(x)
    residuals = {
        "rmse_log_N_opt": float(np.sqrt(np.mean(resid[:, 0] ** 2))),
        "rmse_log_D_opt": float(np.sqrt(np.mean(resid[:, 1] ** 2))),
        "n_points": float(nb),
        "n_winners": float(len(winners)),
    }

    # envelope loss along the usable grid: a power law with an offset, as in Approach 2
    frontier = fit_loss_frontier(np.exp(x), env["loss"][use])
    derived = dict(al["derived"])
    if frontier:
        derived["loss_gamma"] = frontier["gamma"]
        derived["loss_E"] = frontier["E"]

    meta = df.attrs.get("scaling", {})
    src = meta.get("source") or "curves"
    prov = Provenance(
        citation=f"Approach 1 (training-curve envelope) fit by scaling to {src}",
        notes=f"{nb} envelope budgets won by {len(winners)} runs; a = {a:.4f}, b = {b:.4f}; intervals: {al['method']}",
        fitted_flops=(float(np.exp(x.min())), float(np.exp(x.max()))),
    )
    law = PowerLawAllocation(
        math.exp(logkN), a, math.exp(logkD), b, name="approach1", provenance=prov, samples=al["samples"]
    )
    law.flops_convention = fconv

    win_counts: dict[Any, int] = {}
    for w in env["winner"][use]:
        win_counts[runs[w]["run_id"]] = win_counts.get(runs[w]["run_id"], 0) + 1
    table = [
        {
            "C": float(np.exp(grid[i])),
            "loss": _fin(env["loss"][i]),
            "winner": runs[env["winner"][i]]["run_id"] if env["winner"][i] >= 0 else None,
            "N": _fin(np.exp(env["logN"][i])),
            "D": _fin(np.exp(env["logD"][i])),
            "n_cover": int(env["n_cover"][i]),
            "used": bool(use[i]),
        }
        for i in range(n_grid)
    ]
    info = data_info(df, cols=("params", "tokens", "flops", "loss"))
    return FitResult(
        method="approach1",
        form="powerlaw",
        law=law.to_dict(),
        params={"k_N": float(math.exp(logkN)), "a": float(a), "k_D": float(math.exp(logkD)), "b": float(b)},
        intervals=al["intervals"],
        derived=derived,
        objective=float(np.sum(resid[:, 0] ** 2)),
        converged=True,
        flags=flags,
        bootstrap=boot_info,
        data=DataInfo(**info),
        options={
            "level": level,
            "bootstrap": bootstrap,
            "seed": seed,
            "points_per_decade": points_per_decade,
            "envelope": envelope_mode,
            "select": select,
            "min_flops": min_flops,
            "max_flops": max_flops,
            "at": at.tolist(),
            **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
        },
        residuals=residuals,
        flops_convention=fconv,
        params_convention="total",
        extra={
            "envelope": table,
            "winners": win_counts,
            "n_runs": len(runs),
            "interval_method": al["method"],
            "loss_frontier": frontier,
        },
    )


def _fin(v):
    v = float(v)
    return v if math.isfinite(v) else None


__all__ = ["fit_approach1", "envelope"]
