"""Fitting the sparsity law of Frantar et al. 2024 to runs with a sparsity column.

    L(S, N, D) = (a_S (1-S)^b_S + c_S) N^-b_N + (a_D / D)^b_D + c        (N non-zero parameters)

As for Approach 3 (REFERENCE.md section 2), the objective is the SUM over runs of
Huber_delta(log L_pred - log L) with delta = 1e-3, in log parameters::

    theta = (log a_S, b_S, log c_S, b_N, log a_D, b_D, log c)
    log L_pred = LSE( LSE(log a_S + b_S log(1-S), log c_S) - b_N log N,  b_D (log a_D - log D),  log c )

with its exact gradient, minimised by L-BFGS-B from many starts: the objective is evaluated on a
grid of starts (3 values per parameter, 2,187 points, vectorised), and L-BFGS-B runs from the
best ``n_starts`` of them; the lowest optimum wins. Parameters can be held fixed
(``fixed={"b_S": 0.722}``), which is how a sweep with fewer than three sparsity levels is fitted
(a_S, b_S, c_S are identified only by three or more distinct levels).

Bootstrap over runs (seeded, warm-started from the optimum) gives percentile intervals on the
parameters and on the dense-equivalent factors at 50% and 75% sparsity, and the law's samples.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.sparsity import SparsityLaw
from ..planner.result import Flag
from ..runs import as_runs, data_info, require_columns
from ._surface import huber, lse
from .bootstrap import RefitFailed, health, health_flags, on_bound, resample_loop
from .clusters import SHORT, boot_groups, row_draw, short_draw
from .flags import bound
from .result import BootstrapInfo, DataInfo, FitResult, worst_run

NAMES = SparsityLaw.param_names  # natural parameters, in order
THETA = ("log_a_S", "b_S", "log_c_S", "b_N", "log_a_D", "b_D", "log_c")
LOGGED = {"a_S", "c_S", "a_D", "c"}
BOUNDS = {
    "log_a_S": (-10.0, 15.0),
    "b_S": (0.01, 5.0),
    "log_c_S": (-10.0, 15.0),
    "b_N": (0.01, 2.0),
    "log_a_D": (-10.0, 60.0),
    "b_D": (0.01, 2.0),
    "log_c": (-10.0, 3.0),
}
START_GRID = {
    "log_a_S": (0.0, 3.0, 6.0),
    "b_S": (0.5, 1.0, 2.0),
    "log_c_S": (0.0, 3.0, 6.0),
    "b_N": (0.1, 0.3, 0.6),
    "log_a_D": (5.0, 15.0, 25.0),
    "b_D": (0.1, 0.3, 0.6),
    "log_c": (-1.0, 0.0, 0.5),
}


def to_theta(params: dict[str, float]) -> np.ndarray:
    return np.array([math.log(params[n]) if n in LOGGED else float(params[n]) for n in NAMES])


def from_theta(theta) -> dict[str, float]:
    return {n: float(math.exp(t)) if n in LOGGED else float(t) for n, t in zip(NAMES, theta)}


def predict_log(theta, logN, logD, log1mS):
    """log L_pred for theta = (log a_S, b_S, log c_S, b_N, log a_D, b_D, log c); broadcasting over
    leading axes of theta (shape (..., 7)) against the runs."""
    t = np.asarray(theta, dtype=float)
    la, bs, lcs, bn, lad, bd, lc = (t[..., k, None] for k in range(7))
    lcoef = lse(la + bs * log1mS, lcs + 0.0 * log1mS)
    u1 = lcoef - bn * logN
    u2 = bd * (lad - logD)
    return lse(u1, u2, lc + 0.0 * u1)


def objective(theta, logN, logD, log1mS, logL, delta: float = 1e-3, grad: bool = True):
    """Huber sum over runs of (log L_pred - log L) and its exact gradient in theta."""
    la, bs, lcs, bn, lad, bd, lc = (float(v) for v in theta)
    x_a = la + bs * log1mS
    lcoef = np.logaddexp(x_a, lcs)
    u1 = lcoef - bn * logN
    u2 = bd * (lad - logD)
    u3 = np.full_like(u1, lc)
    m = np.maximum(np.maximum(u1, u2), u3)
    e1, e2, e3 = np.exp(u1 - m), np.exp(u2 - m), np.exp(u3 - m)
    s = e1 + e2 + e3
    pred = m + np.log(s)
    r = pred - logL
    f = float(np.sum(huber(r, delta)))
    if not grad:
        return f
    h = np.clip(r, -delta, delta)
    w1, w2, w3 = e1 / s, e2 / s, e3 / s
    sig = np.exp(x_a - lcoef)  # share of a_S (1-S)^b_S in the size coefficient
    g = np.array(
        [
            np.sum(h * w1 * sig),
            np.sum(h * w1 * sig * log1mS),
            np.sum(h * w1 * (1.0 - sig)),
            np.sum(h * w1 * -logN),
            np.sum(h * w2 * bd),
            np.sum(h * w2 * (lad - logD)),
            np.sum(h * w3),
        ]
    )
    return f, g


class _Problem:
    def __init__(self, logN, logD, log1mS, logL, delta, fixed: dict[str, float]):
        self.logN, self.logD, self.log1mS, self.logL, self.delta = logN, logD, log1mS, logL, delta
        self.fixed_theta = {THETA[NAMES.index(k)]: (math.log(v) if k in LOGGED else float(v)) for k, v in fixed.items()}
        self.free = [k for k, name in enumerate(THETA) if name not in self.fixed_theta]

    def full(self, x) -> np.ndarray:
        th = np.empty(7)
        for k, name in enumerate(THETA):
            if name in self.fixed_theta:
                th[k] = self.fixed_theta[name]
        th[self.free] = x
        return th

    def fun(self, x):
        f, g = objective(self.full(x), self.logN, self.logD, self.log1mS, self.logL, self.delta)
        return f, g[self.free]

    def minimize(self, x0):
        from scipy.optimize import minimize

        bounds = [BOUNDS[THETA[k]] for k in self.free]
        x0 = np.clip(np.asarray(x0, dtype=float), [b[0] for b in bounds], [b[1] for b in bounds])
        return minimize(
            self.fun,
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 10000, "maxfun": 20000, "ftol": 1e-15, "gtol": 1e-11},
        )

    def subset(self, idx) -> _Problem:
        p = _Problem.__new__(_Problem)
        p.logN, p.logD, p.log1mS, p.logL = self.logN[idx], self.logD[idx], self.log1mS[idx], self.logL[idx]
        p.delta, p.fixed_theta, p.free = self.delta, self.fixed_theta, self.free
        return p


def _starts(problem: _Problem, n_starts: int) -> np.ndarray:
    """The best ``n_starts`` points of the start grid (free parameters only) by objective value."""
    axes = [START_GRID[THETA[k]] for k in problem.free]
    pts = np.array(list(itertools.product(*axes)), dtype=float)
    full = np.empty((len(pts), 7))
    for k, name in enumerate(THETA):
        if name in problem.fixed_theta:
            full[:, k] = problem.fixed_theta[name]
    full[:, problem.free] = pts
    with np.errstate(all="ignore"):
        pred = predict_log(full, problem.logN, problem.logD, problem.log1mS)
        vals = np.sum(huber(pred - problem.logL, problem.delta), axis=-1)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    order = np.argsort(vals, kind="stable")[: max(1, int(n_starts))]
    return pts[order]


def fit_sparsity(
    runs: Any,
    *,
    delta: float = 1e-3,
    n_starts: int = 40,
    fixed: dict[str, float] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    params_col: str | None = None,
    sparsity_col: str = "sparsity",
    bootstrap_by: Sequence[str] | str | None = None,
) -> FitResult:
    """Fit L(S, N, D) of Frantar et al. to runs: FitResult of method and form ``sparsity``.

    runs: a runs DataFrame (or a path ``load_runs`` reads) with a ``sparsity`` column (fraction of
        zero weights, in [0, 1)); N is taken from ``nonzero_params`` when the table has it (the run
        store's column), else ``params`` (pass ``params_col`` to choose).
    fixed: parameters held at given values, by natural name (a_S, b_S, c_S, b_N, a_D, b_D, c).
    n_starts: L-BFGS-B runs, from the best points of the start grid.
    bootstrap: resample runs this many times for intervals and the law's samples.
    bootstrap_by: resample the groups of these columns, not runs (:mod:`scaling.fit.clusters`).
    """
    df = as_runs(runs)
    if sparsity_col not in df.columns:
        raise ScalingError(
            f"the sparsity fit needs a {sparsity_col!r} column (fraction of zero weights per run; "
            f"columns: {', '.join(map(str, df.columns))})"
        )
    if params_col is None:
        params_col = (
            "nonzero_params" if "nonzero_params" in df.columns and df["nonzero_params"].notna().all() else "params"
        )
    require_columns(df, [params_col, "tokens", "loss", sparsity_col], "sparsity fit")
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(NAMES)
    if unknown:
        raise ScalingError(f"fixed: unknown parameter(s) {', '.join(sorted(unknown))} (known: {', '.join(NAMES)})")
    for k, v in fixed.items():
        if not math.isfinite(v) or (v <= 0 and k in LOGGED):
            raise ScalingError(f"fixed: {k} must be a {'positive ' if k in LOGGED else ''}finite number, got {v}")
    if delta <= 0:
        raise ScalingError("delta: the Huber threshold must be positive")
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    S = np.asarray(df[sparsity_col], dtype=float)
    if not np.all(np.isfinite(S)) or np.any(S < 0) or np.any(S >= 1):
        bad = S[~(np.isfinite(S) & (S >= 0) & (S < 1))][0]
        raise ScalingError(
            f"column {sparsity_col!r}: sparsity must be a fraction in [0, 1) (got {bad:g}; "
            "percentages must be divided by 100)"
        )
    N = np.asarray(df[params_col], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    levels = np.unique(np.round(S, 9))
    free_s = {"a_S", "b_S", "c_S"} - set(fixed)
    flags: list[Flag] = []
    if len(levels) < 2 and free_s:
        raise ScalingError(
            f"all runs have sparsity {levels[0]:g}: a_S, b_S, c_S need runs at several sparsity "
            "levels (or hold them fixed with fixed={...})"
        )
    if len(levels) < 3 and len(free_s) == 3:
        flags.append(
            Flag(
                "sparsity_few_levels",
                f"only {len(levels)} sparsity levels: a_S, b_S and c_S are not all identified "
                "(hold one fixed, e.g. fixed={'b_S': 0.722})",
            )
        )
    n_free = 7 - len(fixed)
    if len(df) <= n_free:
        raise ScalingError(f"{len(df)} runs for {n_free} free parameters: the sparsity fit needs more runs")

    groups = boot_groups(df, bootstrap_by, bootstrap)
    problem = _Problem(np.log(N), np.log(D), np.log1p(-S), np.log(L), delta, fixed)
    results = [problem.minimize(x0) for x0 in _starts(problem, n_starts)]
    best = min(results, key=lambda r: r.fun if np.isfinite(r.fun) else np.inf)
    theta = problem.full(best.x)
    params = from_theta(theta)
    objective_value = float(best.fun)
    converged = bool(best.success)
    if not converged:
        flags.append(Flag("not_converged", f"L-BFGS-B did not converge: {best.message}"))
    for j in problem.free:
        lo, hi = BOUNDS[THETA[j]]
        if min(abs(theta[j] - lo), abs(theta[j] - hi)) < 1e-6:
            flags.append(bound(NAMES[j], f"{NAMES[j]} is on its bound ({params[NAMES[j]]:.4g})"))

    def derived_of(p: dict[str, float]) -> dict[str, float]:
        law = SparsityLaw(**p)
        return {
            "dense_equivalent@0.5": float(law.dense_equivalent_factor(0.5)),
            "dense_equivalent@0.75": float(law.dense_equivalent_factor(0.75)),
        }

    derived = derived_of(params)
    intervals: dict[str, tuple[float, float]] = {}
    samples = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    if bootstrap > 0:
        n = len(N)

        def refit(idx):
            if free_s and len(np.unique(np.round(S[idx], 9))) < min(len(levels), 3):
                raise RefitFailed("too few sparsity levels drawn")
            if groups is not None and short_draw(idx, N, D, n_free + 1):
                raise RefitFailed(SHORT)
            res = problem.subset(idx).minimize(best.x)
            if not res.success:
                raise RefitFailed("did not converge")
            return problem.full(res.x)

        boot = resample_loop(int(bootstrap), seed, row_draw(n, groups), refit, width=7)
        rows = boot.rows
        free_mask = np.isin(np.arange(7), problem.free)
        lo_b = [BOUNDS[t][0] if free_mask[k] else None for k, t in enumerate(THETA)]
        hi_b = [BOUNDS[t][1] if free_mask[k] else None for k, t in enumerate(THETA)]
        mask, counts = on_bound(rows, lo_b, hi_b, NAMES)
        boot_info = health(
            int(bootstrap), seed, level, failed=boot.failed, bound_mask=mask, bound_counts=counts, groups=groups
        )
        flags += health_flags(boot_info)
        if len(rows) >= 2:
            samples = np.array([[from_theta(th)[k] for k in NAMES] for th in rows])
            q = (1 - level) / 2
            for j, nm in enumerate(NAMES):
                if nm in fixed:
                    continue
                lo, hi = np.quantile(samples[:, j], [q, 1 - q])
                intervals[nm] = (float(lo), float(hi))
            drows = [derived_of(dict(zip(NAMES, s))) for s in samples]
            for key in derived:
                lo, hi = np.quantile([d[key] for d in drows], [q, 1 - q])
                intervals[key] = (float(lo), float(hi))
        else:
            flags.append(Flag("bootstrap_failed", "bootstrap failed on almost every resample: no intervals"))

    pred = predict_log(theta, problem.logN, problem.logD, problem.log1mS)
    res_log = pred - problem.logL
    _, g = objective(theta, problem.logN, problem.logD, problem.log1mS, problem.logL, delta)
    residuals = {
        "rmse_log_loss": float(np.sqrt(np.mean(res_log**2))),
        "mae_log_loss": float(np.mean(np.abs(res_log))),
        "max_abs_log_loss": float(np.max(np.abs(res_log))),
        "grad_norm": float(np.linalg.norm(g[problem.free])),
    }

    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    C = np.asarray(df["flops"], dtype=float) if "flops" in df.columns else 6 * N * D
    prov = Provenance(
        citation=f"sparsity-law fit by scaling to {meta.get('source') or 'runs'}",
        notes=f"Frantar et al. 2024 form, N = {params_col}; Huber delta {delta:g} on log loss, summed, "
        f"L-BFGS-B from the best {len(results)} of a grid of starts" + (f"; fixed {fixed}" if fixed else ""),
        fitted_flops=(float(C.min()), float(C.max())),
    )
    law = SparsityLaw(**params, name="sparsity-fit", provenance=prov, samples=samples)
    law.flops_convention = meta.get("flops_convention", "6nd")
    law.params_convention = "nonzero"  # N of this law counts non-zero parameters (all of them when S = 0)
    if params_col != "nonzero_params" and levels.max() > 0:
        flags.append(
            Flag(
                "sparsity_params_column",
                f"N taken from the {params_col!r} column: the law assumes it counts NON-ZERO parameters",
            )
        )
    info = data_info(df, cols=(params_col, "tokens", "loss", sparsity_col))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FitResult(
            method="sparsity",
            form="sparsity",
            law=law.to_dict(),
            params=law.params,
            intervals=intervals,
            derived=derived,
            objective=objective_value,
            converged=converged,
            flags=flags,
            bootstrap=boot_info,
            data=DataInfo(**info),
            worst_run=worst_run(df, N, D, L, pred),
            options={
                "delta": delta,
                "n_starts": int(n_starts),
                "fixed": fixed,
                "bootstrap": bootstrap,
                "seed": seed,
                "level": level,
                "params_col": params_col,
                "sparsity_col": sparsity_col,
                **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
            },
            residuals=residuals,
            flops_convention=law.flops_convention,
            params_convention=law.params_convention,
            extra={
                "sparsity_levels": [float(v) for v in levels],
                "iterations": int(best.nit),
                "starts_run": len(results),
            },
        )


__all__ = ["fit_sparsity", "objective", "predict_log", "to_theta", "from_theta"]
