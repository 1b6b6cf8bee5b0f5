"""Approach 2 of Hoffmann et al. (2022, arXiv 2203.15556): isoFLOP profiles.

Runs are grouped by training budget C (:func:`scaling.fit.isoflop.assign_budgets`); each budget's
isoFLOP profile gets a parabola in log N whose vertex is its compute-optimal size, and a budget
without a usable minimum is left out and flagged with the reason
(:func:`scaling.fit.isoflop.isoflop_minimum`). Then, over the kept budgets, power laws
N_opt = k_N C^a and D_opt = k_D C^b with their intervals, and the loss frontier
L_opt(C) = E + k C^-gamma (:mod:`scaling.fit.allocation`). With ``bootstrap`` > 0 the runs are
resampled within budgets and every parabola and regression refitted.

With ``bootstrap_by`` (a cluster bootstrap, :mod:`scaling.fit.clusters`) the groups are resampled
across budgets, not within them: a trunk of a branched isoFLOP sweep (one size) has a run in several
budgets, so its shared error moves the same size's point in every parabola, which no resampling
inside a budget can show. A resample draws the groups with replacement over the whole table; each
drawn run goes to its own budget (the budgets are those of the full data), a group drawn twice puts
its runs twice into each parabola, and a budget left with too few sizes loses its minimum as in the
row bootstrap (the refit fails below 2 budgets). Grouping by ``budget`` itself resamples whole
isoFLOP profiles, the points of the final regressions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.powerlaw import PowerLawAllocation
from ..planner.result import Flag
from ..runs import as_runs, data_info, require_columns, require_sizes
from .allocation import allocation_fit, fit_loss_frontier, ols_pair, table_flops_convention
from .bootstrap import RefitFailed, health, health_flags, resample_loop
from .clusters import Groups, boot_groups
from .isoflop import assign_budgets, isoflop_minimum, profiles
from .result import MIN_BUDGETS, BootstrapInfo, DataInfo, FitResult


def fit_approach2(
    runs: Any,
    *,
    flops_col: str = "flops",
    level: float = 0.95,
    bootstrap: int = 0,
    seed: int = 0,
    window: float | None = 0.1,
    min_points: int = 3,
    budgets: str | Sequence[float] = "auto",
    tol: float = 0.05,
    bins_per_decade: float = 4.0,
    at: Sequence[float] | np.ndarray | None = None,
    n_samples: int = 1000,
    flops_convention: str | None = None,
    bootstrap_by: Sequence[str] | str | None = None,
) -> FitResult:
    """Approach 2 (isoFLOP profiles) -> FitResult with form "powerlaw".

    runs: a runs DataFrame (``load_runs``) or anything ``load_runs`` reads.
    flops_col: the column holding each run's budget (default the canonical ``flops``).
    level: confidence level of the intervals.
    bootstrap: if > 0, resample runs within each budget this many times (seeded) and take
        percentile intervals and the law's samples from the refits; else t-based OLS intervals
        and ``n_samples`` samples from the estimates' joint (multivariate t) distribution.
    window: parabola points are those with loss <= (1 + window) x the budget's lowest loss
        (plus the lowest run's neighbours); None: all points.
    min_points: fewest distinct sizes a parabola is fitted to.
    budgets, tol, bins_per_decade: how runs are grouped into budgets (see ``assign_budgets``).
    at: budgets at which N_opt, D_opt (and their intervals) are reported; default the largest
        budget in the data and 100x it.
    bootstrap_by: resample the groups of these columns across budgets instead of runs within
        budgets (module doc).

    ``extra["budgets"]`` lists every budget: C, runs, N_opt, D_opt, loss_opt, flagged, reason.
    """
    df = as_runs(runs)
    require_columns(df, ["params", "tokens", "loss", flops_col], "approach2")
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    if min_points < 3:
        raise ScalingError("min_points: a parabola needs at least 3 points")
    if bootstrap < 0:
        raise ScalingError("bootstrap: must be >= 0")
    require_sizes(df, 3, "Approach 2 (a parabola per budget)")
    groups = boot_groups(df, bootstrap_by, bootstrap)
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    C = np.asarray(df[flops_col], dtype=float)
    for name, v in (("params", N), ("tokens", D), ("loss", L), (flops_col, C)):
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ScalingError(f"approach2: column {name!r} has non-positive or non-finite values")
    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    if flops_col == "flops" or flops_convention:
        fconv = table_flops_convention(df, flops_convention)
    else:
        fconv = f"column {flops_col}"

    bidx, Cb, mode = assign_budgets(C, budgets=budgets, tol=tol, bins_per_decade=bins_per_decade, min_points=min_points)
    logN, logD = np.log(N), np.log(D)
    logCb = np.log(Cb)
    profs = profiles(logCb, bidx, logN, logD, L, window, min_points)
    ok = np.array([p["ok"] for p in profs], dtype=bool)
    flags: list[Flag] = []
    for p in profs:
        if not p["ok"]:
            flags.append(
                Flag("approach2_budget_left_out", f"budget C={math.exp(p['logC']):.3g} left out: {p['reason']}")
            )
    if (bidx < 0).any():
        flags.append(
            Flag(
                "budgets_unmatched",
                f"{int((bidx < 0).sum())} run(s) matched none of the given budgets and were left out",
            )
        )
    if ok.sum() < 2:
        raise ScalingError(
            f"Approach 2 needs at least 2 FLOP budgets with a valid isoFLOP minimum; got "
            f"{int(ok.sum())} of {len(profs)}"
            + (f" ({flags[0].message})" if flags else "")
            + ("; check --flops-col or the budget grouping (budgets='bins')" if len(profs) > len(C) / 2 else "")
        )

    x = logCb[ok]
    yN = np.array([p["logN_opt"] for p in profs])[ok]
    yD_par = np.array([p["logD_opt"] for p in profs])[ok]
    # D_opt from its own parabola; on an exact 6ND isoFLOP it equals C / (6 N_opt)
    yD = np.where(np.isfinite(yD_par), yD_par, x - math.log(6.0) - yN)
    if at is None:
        cmax = float(np.exp(x.max()))
        at = (cmax, 100.0 * cmax)
    at = np.asarray([float(c) for c in at], dtype=float)
    boot = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    if bootstrap > 0:
        refits = _bootstrap(seed, bootstrap, bidx, len(Cb), logCb, logN, logD, L, window, min_points, groups)
        boot = refits.rows
        boot_info = health(int(bootstrap), seed, level, failed=refits.failed, groups=groups)  # no bounded parameters
        flags += health_flags(boot_info)
        # kept refits fitted on fewer budgets than the full fit (a budget lost its minimum)
        n_short = int(sum(k < int(ok.sum()) for k in refits.extras))
    al = allocation_fit(
        x,
        yN,
        yD,
        level=level,
        at=at,
        seed=seed,
        n_samples=n_samples,
        boot=boot,
        boot_label="bootstrap over runs within budgets"
        if groups is None
        else f"cluster bootstrap over {groups.describe()} across budgets",
    )
    logkN, a, logkD, b = al["vec"]
    cov, resid = al["cov"], al["resid"]
    intervals, derived, law_samples = al["intervals"], al["derived"], al["samples"]
    interval_method = al["method"]
    nb = int(ok.sum())
    flags += al["flags"]

    # sanity checks a user should see
    if abs(a + b - 1) > 0.05 and fconv == "6nd":
        flags.append(
            Flag("not_6nd", f"a + b = {a + b:.3f} differs from 1: the runs' tokens and FLOPs do not follow C = 6ND")
        )
    if nb < MIN_BUDGETS:
        flags.append(
            Flag(
                "approach2_few_budgets",
                f"only {nb} usable budget{'s' if nb != 1 else ''} (fewer than {MIN_BUDGETS}): a and b rest on "
                f"{nb} points and are poorly determined",
            )
        )
    span = x.max() - x.min()
    if span < math.log(10):
        flags.append(
            Flag(
                "narrow_compute_range",
                f"the kept budgets span only {math.exp(span):.2g}x in compute: exponents are poorly determined",
            )
        )

    # isoFLOP-minimum losses
    Lopt = np.array([p["loss_opt"] for p in profs])[ok]
    frontier = fit_loss_frontier(np.exp(x), Lopt)
    if frontier:
        derived["loss_gamma"] = frontier["gamma"]
        derived["loss_E"] = frontier["E"]
        for c in at:
            derived[f"loss_opt@{c:.3g}"] = float(frontier["E"] + frontier["k"] * c ** -frontier["gamma"])

    ssrN = float(np.sum(resid[:, 0] ** 2))
    ssrD = float(np.sum(resid[:, 1] ** 2))
    residuals = {
        "rmse_log_N_opt": math.sqrt(ssrN / nb),
        "rmse_log_D_opt": math.sqrt(ssrD / nb),
        "r2_N_opt": _r2(yN, resid[:, 0]),
        "r2_D_opt": _r2(yD, resid[:, 1]),
        "max_abs_log_N_opt": float(np.max(np.abs(resid[:, 0]))),
    }

    src = meta.get("source", "")
    prov = Provenance(
        citation=f"Approach 2 (isoFLOP) fit by scaling to {src or 'runs'}",
        notes=f"{nb} of {len(profs)} budgets; a = {a:.4f}, b = {b:.4f}; intervals: {interval_method}",
        fitted_flops=(float(np.exp(x.min())), float(np.exp(x.max()))),
    )
    law = PowerLawAllocation(
        math.exp(logkN),
        a,
        math.exp(logkD),
        b,
        name="approach2",
        provenance=prov,
        samples=law_samples,
        loss_frontier=frontier or None,
    )
    pconv = meta.get("params_convention", "total")
    law.params_convention = pconv
    law.flops_convention = fconv

    table = []
    for p in profs:
        c = math.exp(p["logC"])
        table.append(
            {
                "C": c,
                "n_runs": p["n_points"],
                "n_used": p["n_used"],
                "N_opt": _fin(math.exp(p["logN_opt"])) if np.isfinite(p["logN_opt"]) else None,
                "D_opt": _fin(math.exp(p["logD_opt"])) if np.isfinite(p["logD_opt"]) else None,
                "loss_opt": _fin(p["loss_opt"]),
                "curvature": _fin(p["curvature"]),
                "flagged": not p["ok"],
                "reason": p["reason"],
                "N_min": float(np.exp(logN[p["rows"]].min())) if len(p["rows"]) else None,
                "N_max": float(np.exp(logN[p["rows"]].max())) if len(p["rows"]) else None,
            }
        )

    info = data_info(df, cols=("params", "tokens", flops_col, "loss"))
    return FitResult(
        method="approach2",
        form="powerlaw",
        law=law.to_dict(),
        params={"k_N": float(math.exp(logkN)), "a": float(a), "k_D": float(math.exp(logkD)), "b": float(b)},
        intervals=intervals,
        derived=derived,
        objective=ssrN,
        converged=True,
        flags=flags,
        bootstrap=boot_info,
        data=DataInfo(**info),
        options={
            "flops_col": flops_col,
            "level": level,
            "bootstrap": bootstrap,
            "seed": seed,
            "window": window,
            "min_points": min_points,
            "budgets": budgets if isinstance(budgets, str) else [float(v) for v in budgets],
            "budget_mode": mode,
            "tol": tol,
            "bins_per_decade": bins_per_decade,
            "at": at.tolist(),
            "n_samples": n_samples if not bootstrap else bootstrap,
            **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
        },
        residuals=residuals,
        flops_convention=fconv,
        params_convention=pconv,
        extra={
            "budgets": table,
            "n_budgets_used": nb,
            "n_budgets": len(profs),
            "interval_method": interval_method,
            **({"bootstrap_refits_short_of_budgets": n_short} if bootstrap > 0 else {}),
            "loss_frontier": frontier,
            "se": {
                "log_k_N": _fin(math.sqrt(cov[0, 0])),
                "a": _fin(math.sqrt(cov[1, 1])),
                "log_k_D": _fin(math.sqrt(cov[2, 2])),
                "b": _fin(math.sqrt(cov[3, 3])),
            },
        },
    )


def _bootstrap(seed, n_boot, bidx, nbudgets, logCb, logN, logD, L, window, min_points, groups: Groups | None = None):
    """Resample runs within each budget, or the ``groups`` across budgets (module doc); refit parabolas
    and regressions (:func:`resample_loop`). Rows: (log k_N, a, log k_D, b). A resample fails when
    fewer than 2 of its budgets keep a minimum."""
    members = [np.flatnonzero(bidx == k) for k in range(nbudgets)]

    def draw(rng):
        if groups is not None:
            rows = groups.draw(rng)
            return [rows[bidx[rows] == k] for k in range(nbudgets)]
        return [m[rng.integers(0, len(m), size=len(m))] if len(m) else m for m in members]

    def refit(picks):
        xs, yn, yd = [], [], []
        for k, pick in enumerate(picks):
            if len(pick) == 0:
                continue
            r = isoflop_minimum(logN[pick], L[pick], logD[pick], window=window, min_points=min_points)
            if r["ok"]:
                xs.append(logCb[k])
                yn.append(r["logN_opt"])
                yd.append(r["logD_opt"] if np.isfinite(r["logD_opt"]) else logCb[k] - math.log(6.0) - r["logN_opt"])
        if len(xs) < 2:
            raise RefitFailed("fewer than 2 budgets kept an isoFLOP minimum")
        v, _, _ = ols_pair(np.array(xs), np.array(yn), np.array(yd))
        return v, len(xs)

    return resample_loop(int(n_boot), seed, draw, refit, width=4)


def _r2(y: np.ndarray, resid: np.ndarray) -> float:
    ss = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum(resid**2) / ss) if ss > 0 else math.nan


def _fin(v):
    return float(v) if v is not None and np.isfinite(v) else None


__all__ = ["fit_approach2"]
