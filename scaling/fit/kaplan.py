"""Fitting the Kaplan et al. (2020, arXiv 2001.08361, eq. 1.5) loss surface

    L(N, D) = [ (N_c / N) ** (alpha_N / alpha_D) + D_c / D ] ** alpha_D

In log space, with n = log N, d = log D, theta = (log N_c, log D_c, alpha_N, alpha_D):

    log L = alpha_D * LSE( (alpha_N / alpha_D) (log N_c - n),  log D_c - d )

The objective is the SUM over runs of Huber_delta(log L_pred - log L) (delta = 1e-3), as for
Approach 3. It is minimised by L-BFGS-B with the exact gradient from a grid of starts: every
start is evaluated at once (vectorised) and the best few are refined; the best refinement wins.

Unlike the Chinchilla form this law has no irreducible loss: it tends to zero with scale.
Under C = 6 N D its compute-optimal size is

    N_opt = ( r N_c^r C / (6 D_c) ) ** (1 / (1 + r)),   r = alpha_N / alpha_D,

so N_opt ∝ C^a with a = alpha_D / (alpha_N + alpha_D); the fitted law carries that allocation
(``k_alloc``, ``a_alloc`` in the KaplanLaw's PF-day units), not Kaplan's published 0.73, which
came from early-stopped training and a different fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.kaplan import PF_DAY, KaplanLaw
from ..planner.result import Flag
from ..runs import as_runs, data_info, require_columns, require_sizes
from ._surface import huber
from .bootstrap import RefitFailed, health, health_flags, on_bound, resample_loop
from .clusters import boot_groups, row_draw
from .flags import bound
from .result import BootstrapInfo, DataInfo, FitResult, worst_run

# bounds on theta = (log N_c, log D_c, alpha_N, alpha_D)
LOG_BOUND = (math.log(1.0), math.log(1e40))
EXP_BOUND = (1e-3, 3.0)
START_GRID = {
    "log10_N_c": (6.0, 9.0, 12.0, 15.0, 18.0),
    "log10_D_c": (6.0, 9.0, 12.0, 15.0, 18.0),
    "alpha_N": (0.03, 0.08, 0.2, 0.5),
    "alpha_D": (0.03, 0.08, 0.2, 0.5),
}


def kaplan_log_loss(theta: np.ndarray, logN: np.ndarray, logD: np.ndarray) -> np.ndarray:
    """log L predicted; theta (..., 4) broadcasts against the data (n,) -> (..., n)."""
    theta = np.asarray(theta, dtype=float)
    nc, dc, aN, aD = (theta[..., k, None] for k in range(4))
    z1 = (aN / aD) * (nc - logN)
    z2 = dc - logD
    return aD * np.logaddexp(z1, z2)


def kaplan_objective(
    theta: np.ndarray, logN: np.ndarray, logD: np.ndarray, logL: np.ndarray, delta: float = 1e-3, grad: bool = True
):
    """Sum of Huber losses of log residuals and its exact gradient (theta of shape (4,))."""
    nc, dc, aN, aD = (float(v) for v in theta)
    r = aN / aD
    z1 = r * (nc - logN)
    z2 = dc - logD
    S = np.logaddexp(z1, z2)
    e = aD * S - logL
    f = float(np.sum(huber(e, delta)))
    if not grad:
        return f
    w1 = np.exp(z1 - S)
    w2 = np.exp(z2 - S)
    h = np.clip(e, -delta, delta)
    g = np.array(
        [np.sum(h * aN * w1), np.sum(h * aD * w2), np.sum(h * w1 * (nc - logN)), np.sum(h * (S - w1 * (nc - logN) * r))]
    )
    return f, g


def _starts() -> np.ndarray:
    g = START_GRID
    mesh = np.meshgrid(
        np.array(g["log10_N_c"]) * math.log(10),
        np.array(g["log10_D_c"]) * math.log(10),
        np.array(g["alpha_N"]),
        np.array(g["alpha_D"]),
        indexing="ij",
    )
    return np.column_stack([m.ravel() for m in mesh])


def _on_grid_edge(theta0: np.ndarray, theta: np.ndarray) -> list[str]:
    """Coordinates whose best start is an extreme grid value AND whose optimum lies beyond it:
    the grid may not reach the region of the optimum."""
    names = ("log10_N_c", "log10_D_c", "alpha_N", "alpha_D")
    scale = (math.log(10), math.log(10), 1.0, 1.0)
    out = []
    for k, nm in enumerate(names):
        grid = START_GRID[nm]
        v0, v = theta0[k] / scale[k], theta[k] / scale[k]
        if math.isclose(v0, grid[0], rel_tol=1e-9) and v < grid[0]:
            out.append(f"{nm} below {grid[0]:g}")
        elif math.isclose(v0, grid[-1], rel_tol=1e-9) and v > grid[-1]:
            out.append(f"{nm} above {grid[-1]:g}")
    return out


def _bounds():
    return [LOG_BOUND, LOG_BOUND, EXP_BOUND, EXP_BOUND]


def _refine(theta0, logN, logD, logL, delta):
    from scipy.optimize import minimize

    # ftol/gtol far below the objective's scale: the Huber sum over log residuals is ~1e-4..1e-2,
    # and scipy's default relative tolerance (2.2e-9 against max(|f|, 1)) stops early there.
    return minimize(
        kaplan_objective,
        theta0,
        args=(logN, logD, logL, delta),
        jac=True,
        method="L-BFGS-B",
        bounds=_bounds(),
        options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15, "gtol": 1e-11},
    )


def minimise_kaplan(logN, logD, logL, *, delta: float = 1e-3, n_refine: int = 8, starts: np.ndarray | None = None):
    """Multi-start L-BFGS-B; returns (best result, best start, all refinements)."""
    S = _starts() if starts is None else np.asarray(starts, dtype=float)
    pred = kaplan_log_loss(S, logN, logD)
    f0 = np.sum(huber(pred - logL, delta), axis=1)
    f0 = np.where(np.isfinite(f0), f0, np.inf)
    order = np.argsort(f0, kind="stable")[: max(1, n_refine)]
    results = []
    for k in order:
        res = _refine(S[k], logN, logD, logL, delta)
        results.append((res, S[k]))
    best, start = min(results, key=lambda t: t[0].fun if np.isfinite(t[0].fun) else np.inf)
    return best, start, results


def allocation_of(theta) -> tuple[float, float]:
    """(k_alloc, a_alloc) of the surface's own 6ND optimum: N_opt = k_alloc (C / PF-day)^a_alloc."""
    nc, dc, aN, aD = (float(v) for v in theta)
    r = aN / aD
    a = 1.0 / (1.0 + r)
    logk = a * (math.log(r) + r * nc + math.log(PF_DAY) - math.log(6.0) - dc)
    return math.exp(logk), a


def fit_kaplan(
    runs: Any,
    *,
    delta: float = 1e-3,
    level: float = 0.95,
    bootstrap: int = 0,
    seed: int = 0,
    n_refine: int = 8,
    at: Sequence[float] | np.ndarray | None = None,
    bootstrap_by: Sequence[str] | str | None = None,
) -> FitResult:
    """Fit the Kaplan form to runs (Huber on log-loss residuals, summed; multi-start L-BFGS-B).

    runs: a runs DataFrame (``load_runs``) or anything ``load_runs`` reads.
    bootstrap: resample runs this many times (seeded), warm-started from the full-data optimum,
        for percentile intervals on every parameter and derived quantity (and the law's samples).
    at: budgets where N_opt, D_opt and the loss are reported (default the largest run's FLOPs, 100x it).
    bootstrap_by: resample the groups of these columns, not runs (:mod:`scaling.fit.clusters`).
    """
    df = as_runs(runs)
    require_columns(df, ["params", "tokens", "loss"], "kaplan fit")
    require_sizes(df, 2, "the Kaplan fit")
    if delta <= 0:
        raise ScalingError("delta: the Huber threshold must be positive")
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    logN = np.log(np.asarray(df["params"], dtype=float))
    logD = np.log(np.asarray(df["tokens"], dtype=float))
    logL = np.log(np.asarray(df["loss"], dtype=float))
    if len(np.unique(logD)) < 2:
        raise ScalingError(f"all {len(df)} runs have the same token count; the Kaplan fit needs several")
    if len(df) < 5:
        raise ScalingError(f"the Kaplan form has 4 parameters; {len(df)} runs cannot determine them (need >= 5)")
    groups = boot_groups(df, bootstrap_by, bootstrap)

    best, start, results = minimise_kaplan(logN, logD, logL, delta=delta, n_refine=n_refine)
    theta = np.asarray(best.x, dtype=float)
    flags: list[Flag] = []
    converged = bool(best.success)
    if not converged:
        flags.append(Flag("not_converged", f"L-BFGS-B did not converge: {best.message}"))
    _, g = kaplan_objective(theta, logN, logD, logL, delta)
    names = ("N_c", "D_c", "alpha_N", "alpha_D")
    for k, (lo, hi) in enumerate(_bounds()):
        if math.isclose(theta[k], lo, rel_tol=1e-6, abs_tol=1e-9) or math.isclose(theta[k], hi, rel_tol=1e-6):
            flags.append(
                bound(names[k], f"{names[k]} is on its bound ({math.exp(theta[k]) if k < 2 else theta[k]:.4g})")
            )
    edge = _on_grid_edge(start, theta)
    if edge:
        flags.append(
            Flag("grid_edge", f"best start on the edge of the start grid and the optimum beyond it ({', '.join(edge)})")
        )
    fvals = sorted(float(r.fun) for r, _ in results)

    k_alloc, a_alloc = allocation_of(theta)
    Nc, Dc, aN, aD = math.exp(theta[0]), math.exp(theta[1]), float(theta[2]), float(theta[3])
    C = np.asarray(df["flops"], dtype=float) if "flops" in df.columns else 6 * np.exp(logN + logD)
    if at is None:
        at = (float(C.max()), 100.0 * float(C.max()))
    at = np.asarray([float(c) for c in at], dtype=float)

    def derived_of(th) -> dict[str, float]:
        ka, aa = allocation_of(th)
        out = {"a": aa, "b": 1.0 - aa}
        for c in at:
            n = ka * (c / PF_DAY) ** aa
            d = c / (6.0 * n)
            lc = float(kaplan_log_loss(th, np.log([n]), np.log([d]))[0])
            out[f"N_opt@{c:.3g}"] = n
            out[f"D_opt@{c:.3g}"] = d
            out[f"loss_opt@{c:.3g}"] = math.exp(lc)
        return out

    derived = derived_of(theta)
    intervals: dict[str, tuple[float, float]] = {}
    samples = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    if bootstrap > 0:
        n = len(logN)

        def refit(idx):
            if len(np.unique(logN[idx])) < 2 or len(np.unique(logD[idx])) < 2:
                raise RefitFailed("fewer than 2 distinct sizes or token counts drawn")
            res = _refine(theta, logN[idx], logD[idx], logL[idx], delta)
            if not res.success:
                raise RefitFailed("did not converge")
            if not np.all(np.isfinite(res.x)):
                raise RefitFailed("non-finite")
            return res.x, derived_of(res.x)

        boot = resample_loop(int(bootstrap), seed, row_draw(n, groups), refit, width=4)
        B, drows = boot.rows, boot.extras
        mask, counts = on_bound(B, [b[0] for b in _bounds()], [b[1] for b in _bounds()], names)
        boot_info = health(
            int(bootstrap), seed, level, failed=boot.failed, bound_mask=mask, bound_counts=counts, groups=groups
        )
        flags += health_flags(boot_info)
        if len(B) >= 2:
            q = (1 - level) / 2
            P = np.column_stack([np.exp(B[:, 0]), np.exp(B[:, 1]), B[:, 2], B[:, 3]])
            alloc = np.array([allocation_of(t) for t in B])
            samples = np.column_stack([P, alloc])
            for j, nm in enumerate(names + ("k_alloc", "a_alloc")):
                lo, hi = np.quantile(samples[:, j], [q, 1 - q])
                intervals[nm] = (float(lo), float(hi))
            for key in derived:
                v = np.array([d[key] for d in drows])
                lo, hi = np.quantile(v, [q, 1 - q])
                intervals[key] = (float(lo), float(hi))
        else:
            flags.append(Flag("bootstrap_failed", "bootstrap failed on almost every resample: no intervals"))

    pred = kaplan_log_loss(theta, logN, logD)
    res_log = pred - logL
    residuals = {
        "rmse_log_loss": float(np.sqrt(np.mean(res_log**2))),
        "mae_log_loss": float(np.mean(np.abs(res_log))),
        "max_abs_log_loss": float(np.max(np.abs(res_log))),
        "rmse_rel_loss": float(np.sqrt(np.mean(np.expm1(res_log) ** 2))),
        "grad_norm": float(np.linalg.norm(g)),
    }

    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    pconv = meta.get("params_convention", "total")
    prov = Provenance(
        citation=f"Kaplan-form fit by scaling to {meta.get('source') or 'runs'}",
        notes=f"Huber (delta {delta:g}) on log-loss residuals, summed; allocation is the fitted "
        f"surface's own 6ND optimum (a = {a_alloc:.4f}); N counts {pconv} parameters",
        fitted_flops=(float(C.min()), float(C.max())),
    )
    law = KaplanLaw(Nc, Dc, aN, aD, k_alloc, a_alloc, name="kaplan-fit", provenance=prov, samples=samples)
    law.params_convention = pconv
    info = data_info(df, cols=("params", "tokens", "loss"))
    return FitResult(
        method="kaplan",
        form="kaplan",
        law=law.to_dict(),
        params={"N_c": Nc, "D_c": Dc, "alpha_N": aN, "alpha_D": aD, "k_alloc": k_alloc, "a_alloc": a_alloc},
        intervals=intervals,
        derived=derived,
        objective=float(best.fun),
        converged=converged,
        flags=flags,
        bootstrap=boot_info,
        data=DataInfo(**info),
        worst_run=worst_run(df, np.exp(logN), np.exp(logD), np.exp(logL), pred),
        options={
            "delta": delta,
            "level": level,
            "bootstrap": bootstrap,
            "seed": seed,
            "n_refine": n_refine,
            "n_starts": int(len(_starts())),
            "at": at.tolist(),
            **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
        },
        residuals=residuals,
        flops_convention=meta.get("flops_convention", "6nd"),
        params_convention=pconv,
        extra={
            "start": {
                "log10_N_c": float(start[0] / math.log(10)),
                "log10_D_c": float(start[1] / math.log(10)),
                "alpha_N": float(start[2]),
                "alpha_D": float(start[3]),
            },
            "local_minima": [float(v) for v in fvals[:n_refine]],
            "iterations": int(best.nit),
        },
    )


__all__ = ["fit_kaplan", "kaplan_objective", "kaplan_log_loss", "minimise_kaplan", "allocation_of"]
