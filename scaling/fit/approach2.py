"""Approach 2 of Hoffmann et al. (2022): isoFLOP profiles.

Runs are grouped by training budget C. Along each isoFLOP profile the loss is a valley in
log N; a parabola  L = c0 + c1 x + c2 x^2  (x = log N) fitted near the valley floor puts the
budget's optimum at x* = -c1 / (2 c2). A budget is left out, and flagged with the reason, when

- it has fewer than ``min_points`` runs near its minimum (default 3),
- the parabola opens downward (c2 <= 0), or
- its minimum lies outside the sampled range of log N (the sweep missed the optimum).

Then, by ordinary least squares (statsmodels) over the kept budgets,

    log N_opt = log k_N + a log C,     log D_opt = log k_D + b log C,

with t-based confidence intervals (statsmodels) for a, b and for N_opt, D_opt at given budgets.
The isoFLOP-minimum losses are fitted as L_opt(C) = E + k C^-gamma (a pure power law when that
does not fit). The parameter samples carried by the law (for intervals on plans) come from the
joint sampling distribution of the two regressions, or from a bootstrap over runs within budgets.

Which points enter a parabola: a parabola is a good model of the valley only near its floor; far
from it published isoFLOP curves rise steeply (losses of 8-10 nats beside a 4.7 minimum), and a
parabola through everything moves the vertex. By default the points whose loss is within
``window`` (10%) of the budget's lowest loss are used (at least the lowest point and its two
neighbours in N). ``window=None`` uses every point, as Hoffmann et al. did.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.powerlaw import PowerLawAllocation
from ..runs import as_runs, data_info, group_budgets, require_columns, require_sizes
from .bootstrap import RefitFailed, health, health_flags, resample_loop
from .result import MIN_BUDGETS, BootstrapInfo, DataInfo, FitResult

# ------------------------------------------------------------------------------------------------
# one isoFLOP profile


def isoflop_minimum(
    logN: np.ndarray,
    loss: np.ndarray,
    logD: np.ndarray | None = None,
    *,
    window: float | None = 0.1,
    min_points: int = 3,
) -> dict[str, Any]:
    """Fit the parabola of one isoFLOP profile; returns its optimum or the reason it has none.

    Keys: ok, reason, n_points, n_used, logN_opt, logD_opt, loss_opt, curvature, used (mask).
    """
    x = np.asarray(logN, dtype=float)
    y = np.asarray(loss, dtype=float)
    n = len(x)
    res: dict[str, Any] = {
        "ok": False,
        "reason": "",
        "n_points": int(n),
        "n_used": 0,
        "logN_opt": math.nan,
        "logD_opt": math.nan,
        "loss_opt": math.nan,
        "curvature": math.nan,
        "used": np.zeros(n, dtype=bool),
    }
    if n == 0:
        res["reason"] = "no runs"
        return res
    order = np.argsort(x, kind="stable")
    i = int(np.argmin(y))
    if window is None:
        used = np.ones(n, dtype=bool)
    else:
        used = y <= y[i] * (1.0 + window)
        # at least the lowest run and its neighbours in N, so a coarse sweep still gets a parabola
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n)
        used |= np.abs(rank - rank[i]) <= 1
    xs, ys = x[used], y[used]
    res["used"] = used
    res["n_used"] = int(used.sum())
    if len(np.unique(xs)) < min_points:
        res["reason"] = f"only {len(np.unique(xs))} distinct size(s) near the minimum (a parabola needs {min_points})"
        return res
    xc = xs.mean()
    c2, c1, c0 = np.polyfit(xs - xc, ys, 2)
    res["curvature"] = float(c2)
    if not c2 > 0:
        res["reason"] = f"parabola opens downward (curvature {c2:.3g} <= 0): no minimum"
        return res
    xm = xc - c1 / (2 * c2)
    res["logN_opt"] = float(xm)
    res["loss_opt"] = float(c0 - c1 * c1 / (4 * c2))
    lo, hi = float(xs.min()), float(xs.max())
    if not (lo <= xm <= hi):
        side = "below the smallest" if xm < lo else "above the largest"
        res["reason"] = (
            f"minimum at N = {math.exp(xm):.3g} is {side} size sampled ({math.exp(lo):.3g}..{math.exp(hi):.3g})"
        )
        return res
    if logD is not None:
        zs = np.asarray(logD, dtype=float)[used]
        zc = zs.mean()
        d2, d1, _ = np.polyfit(zs - zc, ys, 2)
        if d2 > 0:
            res["logD_opt"] = float(zc - d1 / (2 * d2))
        else:  # cannot happen on an exact isoFLOP (log D = log C/6 - log N); keep the relation
            res["logD_opt"] = math.nan
    res["ok"] = True
    return res


# ------------------------------------------------------------------------------------------------
# budgets


def assign_budgets(
    flops: np.ndarray,
    *,
    budgets: str | Sequence[float] = "auto",
    tol: float = 0.05,
    bins_per_decade: float = 4.0,
    min_points: int = 3,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Budget index of every run, the budgets (FLOPs), and the mode used.

    ``budgets``: "exact" (values within a factor 1 + tol are one budget), "bins" (log-uniform
    bins, ``bins_per_decade``, centred on 10**(k / bins_per_decade)), "auto" (exact when that gives
    most budgets ``min_points`` runs and no budget spans more than a factor 1 + 3 tol, else bins),
    or a list of budgets (each run goes to the nearest in log space; runs further than a
    factor 1 + tol from every budget are dropped, index -1).
    """
    f = np.asarray(flops, dtype=float)
    idx = np.full(len(f), -1, dtype=int)
    if not isinstance(budgets, str):
        b = np.sort(np.asarray(list(budgets), dtype=float))
        if b.size == 0 or np.any(~np.isfinite(b)) or np.any(b <= 0):
            raise ScalingError("budgets: give positive FLOP values")
        dist = np.abs(np.log(f)[:, None] - np.log(b)[None, :])
        j = np.argmin(dist, axis=1)
        ok = dist[np.arange(len(f)), j] <= math.log1p(tol)
        idx[ok] = j[ok]
        return idx, b, "given"
    if budgets not in ("auto", "exact", "bins"):
        raise ScalingError(f"budgets: {budgets!r} is not one of auto, exact, bins (or a list of FLOP values)")
    centres, groups = group_budgets(f, tol)
    sizes = np.array([len(g) for g in groups])
    # continuous budgets chain into wide groups: those are not budgets
    widest = max(float(f[g].max() / f[g].min()) for g in groups)
    if budgets == "exact" or (budgets == "auto" and np.median(sizes) >= min_points and widest <= 1 + 3 * tol):
        for k, g in enumerate(groups):
            idx[g] = k
        return idx, centres, "exact"
    lf = np.log10(f)
    # bins centred on round budgets (1e17, 10**17.25, ...), so a budget with jitter stays in one bin
    edges = (
        np.arange(math.floor(lf.min() * bins_per_decade - 0.5), math.ceil(lf.max() * bins_per_decade + 0.5) + 1) + 0.5
    ) / bins_per_decade
    k = np.clip(np.searchsorted(edges, lf, side="right") - 1, 0, len(edges) - 2)
    used = np.unique(k)
    remap = {int(v): i for i, v in enumerate(used)}
    idx = np.array([remap[int(v)] for v in k])
    centres = np.array([10 ** float(np.mean(lf[idx == i])) for i in range(len(used))])
    return idx, centres, "bins"


def _profiles(
    logC_b: np.ndarray, bidx: np.ndarray, logN: np.ndarray, logD: np.ndarray, loss: np.ndarray, window, min_points
) -> list[dict[str, Any]]:
    out = []
    for k in range(len(logC_b)):
        m = bidx == k
        r = isoflop_minimum(logN[m], loss[m], logD[m], window=window, min_points=min_points)
        r["logC"] = float(logC_b[k])
        r["rows"] = np.flatnonzero(m)
        out.append(r)
    return out


# ------------------------------------------------------------------------------------------------
# the regressions


def _ols_pair(logC: np.ndarray, logN: np.ndarray, logD: np.ndarray):
    """Slopes/intercepts of log N and log D on log C, and their joint covariance (4x4).

    Order of the vector: (log k_N, a, log k_D, b). Both regressions share the design X, so the
    joint covariance of the estimates is Sigma_e (x) (X'X)^-1, with Sigma_e the 2x2 covariance
    of the residuals (multivariate regression); it keeps the strong tie between a and b.
    """
    X = np.column_stack([np.ones_like(logC), logC])
    Y = np.column_stack([logN, logD])
    beta, *_ = np.linalg.lstsq(X, Y, rcond=None)
    resid = Y - X @ beta
    n = len(logC)
    dof = n - 2
    if dof > 0:
        S = resid.T @ resid / dof
        XtXi = np.linalg.inv(X.T @ X)
        cov = np.kron(S, XtXi)
    else:
        cov = np.full((4, 4), np.nan)
    vec = np.array([beta[0, 0], beta[1, 0], beta[0, 1], beta[1, 1]])
    return vec, cov, resid


def allocation_fit(
    x: np.ndarray,
    yN: np.ndarray,
    yD: np.ndarray,
    *,
    level: float,
    at: np.ndarray,
    rng: np.random.Generator,
    n_samples: int = 1000,
    boot: np.ndarray | None = None,
    boot_label: str = "bootstrap",
    dependent: bool = False,
) -> dict[str, Any]:
    """Power laws log N = log k_N + a log C and log D = log k_D + b log C, with intervals and samples.

    x, yN, yD: log C, log N_opt, log D_opt. ``boot``: rows (log k_N, a, log k_D, b) of refits
    on resampled data; when given, intervals are its percentiles and the law's samples are its
    rows; otherwise OLS t-intervals (statsmodels) and draws from the joint t distribution of the
    estimates. ``dependent``: the points are not independent (an envelope grid), so OLS
    intervals would be too narrow; they are left out unless bootstrapped.
    """
    vec, cov, resid = _ols_pair(x, yN, yD)
    logkN, a, logkD, b = vec
    n = len(x)
    dof = n - 2
    q = (1 - level) / 2
    intervals: dict[str, tuple[float, float]] = {}
    derived: dict[str, float] = {}
    flags: list[str] = []
    for c in at:
        key = f"{c:.3g}"
        nopt = math.exp(logkN + a * math.log(c))
        dopt = math.exp(logkD + b * math.log(c))
        derived[f"N_opt@{key}"] = nopt
        derived[f"D_opt@{key}"] = dopt
        derived[f"tokens_per_param@{key}"] = dopt / nopt
    samples = None
    method = "none"
    if boot is not None and len(boot) >= 2:
        method = boot_label
        ssp = np.column_stack([np.exp(boot[:, 0]), boot[:, 1], np.exp(boot[:, 2]), boot[:, 3]])
        for j, nm in enumerate(("k_N", "a", "k_D", "b")):
            lo, hi = np.quantile(ssp[:, j], [q, 1 - q])
            intervals[nm] = (float(lo), float(hi))
        for c in at:
            key, lc = f"{c:.3g}", math.log(c)
            nn = np.exp(boot[:, 0] + boot[:, 1] * lc)
            dd = np.exp(boot[:, 2] + boot[:, 3] * lc)
            for nm, v in ((f"N_opt@{key}", nn), (f"D_opt@{key}", dd), (f"tokens_per_param@{key}", dd / nn)):
                lo, hi = np.quantile(v, [q, 1 - q])
                intervals[nm] = (float(lo), float(hi))
        samples = ssp
    elif boot is not None:
        flags.append("the bootstrap failed on almost every resample: no intervals")
    elif dependent:
        flags.append("no intervals: the envelope points are not independent (use bootstrap > 0)")
    elif dof > 0:
        from scipy import stats
        from statsmodels.regression.linear_model import OLS

        method = f"OLS t-intervals ({dof} dof); law samples from the joint t distribution"
        X = np.column_stack([np.ones_like(x), x])
        fitN, fitD = OLS(yN, X).fit(), OLS(yD, X).fit()
        ciN, ciD = fitN.conf_int(alpha=1 - level), fitD.conf_int(alpha=1 - level)
        intervals["a"] = (float(ciN[1, 0]), float(ciN[1, 1]))
        intervals["b"] = (float(ciD[1, 0]), float(ciD[1, 1]))
        intervals["k_N"] = (float(math.exp(ciN[0, 0])), float(math.exp(ciN[0, 1])))
        intervals["k_D"] = (float(math.exp(ciD[0, 0])), float(math.exp(ciD[0, 1])))
        Xat = np.column_stack([np.ones_like(at), np.log(at)])
        pN = fitN.get_prediction(Xat).conf_int(alpha=1 - level)
        pD = fitD.get_prediction(Xat).conf_int(alpha=1 - level)
        t = stats.t.ppf(1 - q, dof)
        for j, c in enumerate(at):
            key, lc = f"{c:.3g}", math.log(c)
            intervals[f"N_opt@{key}"] = (float(math.exp(pN[j, 0])), float(math.exp(pN[j, 1])))
            intervals[f"D_opt@{key}"] = (float(math.exp(pD[j, 0])), float(math.exp(pD[j, 1])))
            # the ratio needs the joint covariance of both regressions
            mR = (logkD - logkN) + (b - a) * lc
            gg = np.array([-1.0, -lc, 1.0, lc])
            sR = math.sqrt(max(float(gg @ cov @ gg), 0.0))
            intervals[f"tokens_per_param@{key}"] = (math.exp(mR - t * sR), math.exp(mR + t * sR))
        try:
            # a multivariate t with dof degrees of freedom: normal draws scaled by sqrt(dof / chi2)
            z = rng.multivariate_normal(np.zeros(4), cov, size=n_samples, method="eigh")
            w = np.sqrt(dof / rng.chisquare(dof, size=(n_samples, 1)))
            draws = vec + z * w
            with np.errstate(over="ignore"):  # a heavy-tailed draw (few dof) overflows exp: dropped below
                samples = np.column_stack([np.exp(draws[:, 0]), draws[:, 1], np.exp(draws[:, 2]), draws[:, 3]])
        except (np.linalg.LinAlgError, ValueError):
            samples = None
    else:
        flags.append("only 2 points for the power law: the exponents have no interval")
    if samples is not None:
        # every sample must be a law the planner can build (k > 0 and finite, finite exponents);
        # with 1 or 2 degrees of freedom the t draws reach k_N = inf, which no plan can use
        good = np.all(np.isfinite(samples), axis=1) & (samples[:, 0] > 0) & (samples[:, 2] > 0)
        if not good.all():
            flags.append(
                f"{int((~good).sum())} of {len(samples)} parameter samples were not finite (k_N or k_D "
                f"overflowed) and were dropped"
                + (f"; the power law has only {dof} degree(s) of freedom" if 0 < dof < 3 else "")
            )
            samples = samples[good] if good.sum() >= 2 else None
    return {
        "vec": vec,
        "cov": cov,
        "resid": resid,
        "intervals": intervals,
        "derived": derived,
        "samples": samples,
        "method": method,
        "flags": flags,
    }


def _fit_loss_frontier(C: np.ndarray, L: np.ndarray) -> dict[str, Any]:
    """L_opt(C) = E + k C^-gamma (least squares in log L); a pure power law when that fails."""
    logC, logL = np.log(C), np.log(L)
    out: dict[str, Any] = {}
    if len(C) >= 2:
        g, lk = np.polyfit(logC, logL, 1)
        out = {"form": "k*C^-gamma", "E": 0.0, "k": float(math.exp(lk)), "gamma": float(-g)}
    if len(C) >= 4:
        try:
            from scipy.optimize import least_squares

            s = logC - logC.mean()

            def resid(p):
                E, lk, gam = math.exp(p[0]), p[1], math.exp(p[2])
                return np.log(E + np.exp(lk - gam * s)) - logL

            best = None
            for e0 in (0.3, 0.6, 0.9):
                E0 = e0 * float(L.min())
                pl = np.polyfit(s, np.log(np.maximum(L - E0, 1e-9)), 1)
                r = least_squares(resid, [math.log(E0), pl[1], math.log(max(-pl[0], 1e-4))], method="lm", max_nfev=2000)
                if best is None or r.cost < best.cost:
                    best = r
            if best is not None and best.success and np.all(np.isfinite(best.x)):
                E, lk, gam = math.exp(best.x[0]), best.x[1], math.exp(best.x[2])
                k = math.exp(lk + gam * logC.mean())
                rmse_pl = float(np.sqrt(np.mean((np.log(out["k"]) - out["gamma"] * logC - logL) ** 2)))
                rmse = float(np.sqrt(np.mean(best.fun**2)))
                if E < L.min() and rmse <= rmse_pl:
                    out = {"form": "E+k*C^-gamma", "E": E, "k": k, "gamma": gam}
        except Exception:  # the power law is the fallback
            pass
    if out:
        pred = out["E"] + out["k"] * C ** -out["gamma"]
        out["rmse_log_loss"] = float(np.sqrt(np.mean((np.log(pred) - logL) ** 2)))
    return out


# ------------------------------------------------------------------------------------------------
# the fit


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
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    C = np.asarray(df[flops_col], dtype=float)
    for name, v in (("params", N), ("tokens", D), ("loss", L), (flops_col, C)):
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise ScalingError(f"approach2: column {name!r} has non-positive or non-finite values")
    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    if flops_convention:
        fconv = flops_convention
    elif flops_col == "flops":
        fconv = meta.get("flops_convention", "6nd")
    else:
        fconv = f"column {flops_col}"

    bidx, Cb, mode = assign_budgets(C, budgets=budgets, tol=tol, bins_per_decade=bins_per_decade, min_points=min_points)
    logN, logD = np.log(N), np.log(D)
    logCb = np.log(Cb)
    profs = _profiles(logCb, bidx, logN, logD, L, window, min_points)
    ok = np.array([p["ok"] for p in profs], dtype=bool)
    flags: list[str] = []
    for p in profs:
        if not p["ok"]:
            flags.append(f"budget C={math.exp(p['logC']):.3g} left out: {p['reason']}")
    if (bidx < 0).any():
        flags.append(f"{int((bidx < 0).sum())} run(s) matched none of the given budgets and were left out")
    if ok.sum() < 2:
        raise ScalingError(
            f"Approach 2 needs at least 2 FLOP budgets with a valid isoFLOP minimum; got "
            f"{int(ok.sum())} of {len(profs)}"
            + (f" ({flags[0]})" if flags else "")
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
    rng = np.random.default_rng(seed)
    boot = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    if bootstrap > 0:
        refits = _bootstrap(seed, bootstrap, bidx, len(Cb), logCb, logN, logD, L, window, min_points)
        boot = refits.rows
        boot_info = health(int(bootstrap), seed, level, failed=refits.failed)  # no bounded parameters
        flags += health_flags(boot_info)
        # kept refits fitted on fewer budgets than the full fit (a budget lost its minimum)
        n_short = int(sum(k < int(ok.sum()) for k in refits.extras))
    al = allocation_fit(
        x,
        yN,
        yD,
        level=level,
        at=at,
        rng=rng,
        n_samples=n_samples,
        boot=boot,
        boot_label="bootstrap over runs within budgets",
    )
    logkN, a, logkD, b = al["vec"]
    cov, resid = al["cov"], al["resid"]
    intervals, derived, law_samples = al["intervals"], al["derived"], al["samples"]
    interval_method = al["method"]
    nb = int(ok.sum())
    flags += al["flags"]

    # sanity checks a user should see
    if abs(a + b - 1) > 0.05 and fconv == "6nd":
        flags.append(f"a + b = {a + b:.3f} differs from 1: the runs' tokens and FLOPs do not follow C = 6ND")
    if nb < MIN_BUDGETS:
        flags.append(
            f"only {nb} usable budget{'s' if nb != 1 else ''} (fewer than {MIN_BUDGETS}): a and b rest on "
            f"{nb} points and are poorly determined"
        )
    span = x.max() - x.min()
    if span < math.log(10):
        flags.append(f"the kept budgets span only {math.exp(span):.2g}x in compute: exponents are poorly determined")

    # isoFLOP-minimum losses
    Lopt = np.array([p["loss_opt"] for p in profs])[ok]
    frontier = _fit_loss_frontier(np.exp(x), Lopt)
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


def _bootstrap(seed, n_boot, bidx, nbudgets, logCb, logN, logD, L, window, min_points):
    """Resample runs within each budget; refit parabolas and regressions (:func:`resample_loop`).
    Rows: (log k_N, a, log k_D, b). A resample fails when fewer than 2 of its budgets keep a minimum."""
    members = [np.flatnonzero(bidx == k) for k in range(nbudgets)]

    def draw(rng):
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
        v, _, _ = _ols_pair(np.array(xs), np.array(yn), np.array(yd))
        return v, len(xs)

    return resample_loop(int(n_boot), seed, draw, refit, width=4)


def _r2(y: np.ndarray, resid: np.ndarray) -> float:
    ss = float(np.sum((y - y.mean()) ** 2))
    return float(1 - np.sum(resid**2) / ss) if ss > 0 else math.nan


def _fin(v):
    return float(v) if v is not None and np.isfinite(v) else None


__all__ = ["fit_approach2", "isoflop_minimum", "assign_budgets"]
