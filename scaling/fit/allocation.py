"""The compute-optimal allocation across budgets: power laws in C fitted to per-budget optima.

Given the optimal size and tokens at several budgets (Approach 2's isoFLOP minima, Approach 1's
envelope winners; Hoffmann et al. 2022, arXiv 2203.15556), by least squares in log space

    log N_opt = log k_N + a log C,     log D_opt = log k_D + b log C,

with t-based confidence intervals (statsmodels) for a, b and for N_opt, D_opt at given budgets,
or percentile intervals from bootstrap refits. The law's parameter samples (for intervals on
plans) come from the joint sampling distribution of the two regressions, or from the refits.
The per-budget minimum losses are fitted as L_opt(C) = E + k C^-gamma (a pure power law when
that does not fit).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..planner.result import Flag


def table_flops_convention(df, given: str | None = None) -> str:
    """The FLOP convention a table's ``flops`` column counts in: ``given`` when the caller names it,
    else the one the table's own ``flops_convention`` column names (a sweep's runs and curves tables
    carry it, e.g. ``palm`` budgets) when all rows agree, else the loader's (default ``6nd``)."""
    if given:
        return given
    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    fconv = meta.get("flops_convention", "6nd")
    if "flops_convention" in df.columns:
        named = {str(v).strip().lower() for v in df["flops_convention"].dropna().unique()}
        if len(named) == 1:
            fconv = named.pop()
    return fconv


def ols_pair(logC: np.ndarray, logN: np.ndarray, logD: np.ndarray):
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
    seed: int | None = 0,
    n_samples: int = 1000,
    boot: np.ndarray | None = None,
    boot_label: str = "bootstrap",
    dependent: bool = False,
) -> dict[str, Any]:
    """Power laws log N = log k_N + a log C and log D = log k_D + b log C, with intervals and samples.

    x, yN, yD: log C, log N_opt, log D_opt. ``boot``: rows (log k_N, a, log k_D, b) of refits
    on resampled data; when given, intervals are its percentiles and the law's samples are its
    rows; otherwise OLS t-intervals (statsmodels) and draws from the joint t distribution of the
    estimates (``n_samples`` of them, seeded by ``seed``; these are parametric draws, not
    resamples of runs). ``dependent``: the points are not independent (an envelope grid), so OLS
    intervals would be too narrow; they are left out unless bootstrapped.
    """
    vec, cov, resid = ols_pair(x, yN, yD)
    logkN, a, logkD, b = vec
    n = len(x)
    dof = n - 2
    q = (1 - level) / 2
    intervals: dict[str, tuple[float, float]] = {}
    derived: dict[str, float] = {}
    flags: list[Flag] = []
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
        flags.append(Flag("bootstrap_failed", "the bootstrap failed on almost every resample: no intervals"))
    elif dependent:
        flags.append(Flag("no_intervals", "no intervals: the envelope points are not independent (use bootstrap > 0)"))
    elif dof > 0:
        from scipy import stats
        from statsmodels.regression.linear_model import OLS  # 800 modules with scipy: off `scaling plan`'s start-up

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
            rng = np.random.default_rng(seed)
            z = rng.multivariate_normal(np.zeros(4), cov, size=n_samples, method="eigh")
            w = np.sqrt(dof / rng.chisquare(dof, size=(n_samples, 1)))
            draws = vec + z * w
            with np.errstate(over="ignore"):  # a heavy-tailed draw (few dof) overflows exp: dropped below
                samples = np.column_stack([np.exp(draws[:, 0]), draws[:, 1], np.exp(draws[:, 2]), draws[:, 3]])
        except (np.linalg.LinAlgError, ValueError):
            samples = None
    else:
        flags.append(Flag("no_intervals", "only 2 points for the power law: the exponents have no interval"))
    if samples is not None:
        # every sample must be a law the planner can build (k > 0 and finite, finite exponents);
        # with 1 or 2 degrees of freedom the t draws reach k_N = inf, which no plan can use
        good = np.all(np.isfinite(samples), axis=1) & (samples[:, 0] > 0) & (samples[:, 2] > 0)
        if not good.all():
            flags.append(
                Flag(
                    "samples_dropped",
                    f"{int((~good).sum())} of {len(samples)} parameter samples were not finite (k_N or k_D "
                    f"overflowed) and were dropped"
                    + (f"; the power law has only {dof} degree(s) of freedom" if 0 < dof < 3 else ""),
                )
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


def fit_loss_frontier(C: np.ndarray, L: np.ndarray) -> dict[str, Any]:
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


__all__ = ["allocation_fit", "fit_loss_frontier", "ols_pair", "table_flops_convention"]
