"""Fitting the data-constrained law (Muennighoff et al. 2023) to runs with a unique-token column.

The law (:mod:`scaling.laws.datacon`) is the Chinchilla form in effective parameters N' and
effective data D'; what repetition costs is set by two decay constants, R_D* (data) and R_N*
(parameters). As in the paper, the objective is the SUM over runs of Huber_delta(log L_pred -
log L) with delta = 1e-3, minimised by L-BFGS(-B) from every point of a grid of starts; the best
optimum wins.

Two modes:

- ``free="repetition"`` (default): (E, A, B, alpha, beta) are held at a base law (the published
  C4 fit by default, or any Chinchilla-form law, e.g. an Approach 3 fit of the single-epoch runs,
  which is the paper's own two-stage procedure) and only (R_D*, R_N*) are fitted, in log space,
  with the exact gradient.
- ``free="all"``: all seven parameters, (log A, log B, log E, alpha, beta, log R_D*, log R_N*),
  from a grid over the decay constants around the base law (finite-difference gradient: U_N
  depends on every Chinchilla parameter through G, through a min).

Bootstrap over runs (seeded, warm-started from the full-data optimum) gives percentile intervals
on the fitted parameters and on derived quantities (the value of repeated data D'/D at 4 and 16
epochs), and the law's samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.chinchilla import ChinchillaLaw
from ..laws.datacon import DataConstrainedLaw, muennighoff_2023
from ..laws.registry import get_law
from ..planner.result import Flag
from ..runs import as_runs, data_info, require_columns
from ._surface import huber
from .bootstrap import RefitFailed, health, health_flags, on_bound, resample_loop
from .clusters import SHORT, boot_groups, row_draw, short_draw
from .flags import bound
from .result import BootstrapInfo, DataInfo, FitResult, worst_run

# Starts for the decay constants. "paper": a Chinchilla-style grid with steps of 5 (R_D*, R_N* in
# {1, 5, 10, 15, 20}), optimised in the natural (linear) parameters; on the paper's 182 C4 runs
# every one of these starts converges to the published local optimum (R_D* 15.4, R_N* 5.3).
# "wide": a log-spaced grid 0.5..64 in each, which also finds the other optima of this very flat
# objective (see fit_datacon's flags).
R_GRID_PAPER = (1.0, 5.0, 10.0, 15.0, 20.0)
R_GRID_WIDE = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
R_BOUNDS = (1e-2, 1e4)
LOG_R_BOUNDS = (math.log(R_BOUNDS[0]), math.log(R_BOUNDS[1]))
# free="all": bounds of (log A, log B, log E, alpha, beta, log R_D*, log R_N*)
ALL_BOUNDS = ((-5, 40), (-5, 40), (-5, 3), (0.01, 2.0), (0.01, 2.0), LOG_R_BOUNDS, LOG_R_BOUNDS)
VEC_NAMES = ("A", "B", "E", "alpha", "beta", "R_D_star", "R_N_star")


class _Data:
    """Per-run quantities that do not depend on (R_D*, R_N*) for a fixed base law."""

    def __init__(self, N, D, U, logL, base: ChinchillaLaw):
        self.N, self.D, self.U, self.logL = N, D, U, logL
        self.base = base
        self.UD = np.minimum(U, D)
        self.RD = np.maximum(D / U - 1.0, 0.0)
        G = base.G
        self.UN = np.minimum(N, G * (U * G) ** (base.beta / base.alpha))
        self.RN = np.maximum(N / self.UN - 1.0, 0.0)

    def subset(self, idx) -> _Data:
        return _Data(self.N[idx], self.D[idx], self.U[idx], self.logL[idx], self.base)


def repetition_objective(theta, data: _Data, delta: float = 1e-3, grad: bool = True):
    """Huber sum and exact gradient in theta = (log R_D*, log R_N*), base law fixed."""
    rd, rn = math.exp(theta[0]), math.exp(theta[1])
    b = data.base
    ed = np.exp(-data.RD / rd)
    en = np.exp(-data.RN / rn)
    Dp = data.UD * (1.0 + rd * (1.0 - ed))
    Np = data.UN * (1.0 + rn * (1.0 - en))
    tN = b.A * Np**-b.alpha
    tD = b.B * Dp**-b.beta
    L = b.E + tN + tD
    e = np.log(L) - data.logL
    f = float(np.sum(huber(e, delta)))
    if not grad:
        return f
    h = np.clip(e, -delta, delta)
    # dD'/dR = U_D [(1 - e) - e x / R];  d/dlogR = R * that
    dDp = data.UD * ((1.0 - ed) - ed * data.RD / rd) * rd
    dNp = data.UN * ((1.0 - en) - en * data.RN / rn) * rn
    g = np.array([np.sum(h * (-b.beta * tD / Dp) * dDp / L), np.sum(h * (-b.alpha * tN / Np) * dNp / L)])
    return f, g


def _law_from_vec(v) -> DataConstrainedLaw:
    la, lb, le, al, be, lrd, lrn = (float(x) for x in v)
    return DataConstrainedLaw(math.exp(le), math.exp(la), math.exp(lb), al, be, math.exp(lrd), math.exp(lrn))


def all_objective(v, N, D, U, logL, delta: float = 1e-3) -> float:
    """Huber sum for all seven parameters v = (log A, log B, log E, alpha, beta, log R_D*, log R_N*)."""
    try:
        law = _law_from_vec(v)
    except ScalingError:
        return 1e30
    with np.errstate(all="ignore"):
        pred = np.log(np.asarray(law.loss(N, D, U), dtype=float))
    f = float(np.sum(huber(pred - logL, delta)))
    return f if math.isfinite(f) else 1e30


def _rep_objective_linear(r, data, delta):
    """The repetition objective in the natural parameters r = (R_D*, R_N*)."""
    f, g = repetition_objective(np.log(r), data, delta)
    return f, g / r


def _minimize_rep(theta0, data, delta):
    """L-BFGS-B in (R_D*, R_N*) from theta0 = (log R_D*, log R_N*); the result's x is in logs."""
    from scipy.optimize import minimize

    res = minimize(
        _rep_objective_linear,
        np.exp(theta0),
        args=(data, delta),
        jac=True,
        method="L-BFGS-B",
        bounds=[R_BOUNDS, R_BOUNDS],
        options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-13},
    )
    res.x = np.log(res.x)
    return res


def _minimize_all(v0, N, D, U, logL, delta):
    from scipy.optimize import minimize

    return minimize(
        all_objective,
        v0,
        args=(N, D, U, logL, delta),
        method="L-BFGS-B",
        bounds=list(ALL_BOUNDS),
        options={"maxiter": 20000, "maxfun": 200000, "ftol": 1e-15, "gtol": 1e-10, "eps": 1e-9},
    )


def _base_law(base) -> ChinchillaLaw:
    if base is None:
        return muennighoff_2023().chinchilla()
    if isinstance(base, FitResult):
        base = base.to_law()
    if isinstance(base, str):
        base = get_law(base)
    if isinstance(base, DataConstrainedLaw):
        return base.chinchilla()
    if not isinstance(base, ChinchillaLaw):
        raise ScalingError(f"base law must be of the Chinchilla form (got {getattr(base, 'form', base)!r})")
    return base


def fit_datacon(
    runs: Any,
    *,
    base=None,
    free: str = "repetition",
    starts: str = "paper",
    delta: float = 1e-3,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    unique_tokens_col: str | None = None,
    bootstrap_by: Sequence[str] | str | None = None,
) -> FitResult:
    """Fit the data-constrained law's decay constants R_D* and R_N* (or all parameters).

    runs: a runs DataFrame with an ``unique_tokens`` column (``load_runs`` maps U / U_unique /
        unique_tokens to it), or a path ``load_runs`` reads.
    base: the Chinchilla-form law whose (E, A, B, alpha, beta) are held fixed (``free="repetition"``)
        or start the search (``free="all"``): a law, a registered name, a FitResult; default the
        published C4 fit of Muennighoff et al.
    free: "repetition" (R_D*, R_N* only) or "all" (seven parameters).
    starts: "paper" (default): L-BFGS-B from every point of the grid R_D*, R_N* in {1, 5, 10, 15, 20}
        (the natural parameters), the best optimum wins; "wide": a log grid 0.5..64. The objective
        is flat with several optima within a fraction of a percent of each other; the wide grid is
        always searched too, and a lower optimum it finds is reported in ``flags`` and
        ``extra["other_optima"]`` (on the paper's C4 runs: R_D* 15.4 / R_N* 5.3 from the paper's
        grid, as published, and 95 / 1.7 with a 0.13% lower objective).
    bootstrap: resample runs this many times (seeded, warm-started) for intervals and samples.
    bootstrap_by: resample the groups of these columns, not runs (:mod:`scaling.fit.clusters`).
    """
    kw = {"unique_tokens_col": unique_tokens_col} if unique_tokens_col else {}
    df = as_runs(runs, **kw)
    if "unique_tokens" not in df.columns:
        raise ScalingError(
            "the data-constrained fit needs a unique-token column (unique_tokens, U or U_unique; "
            "or pass unique_tokens_col=NAME)"
        )
    require_columns(df, ["params", "tokens", "loss", "unique_tokens"], "data-constrained fit")
    if free not in ("repetition", "all"):
        raise ScalingError(f"free: {free!r} is not one of 'repetition', 'all'")
    if delta <= 0:
        raise ScalingError("delta: the Huber threshold must be positive")
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    U = np.asarray(df["unique_tokens"], dtype=float)
    logL = np.log(np.asarray(df["loss"], dtype=float))
    n_rep = int(np.sum(D > U * (1 + 1e-9)))
    need = 2 if free == "repetition" else 7
    if n_rep < need:
        raise ScalingError(
            f"only {n_rep} run(s) see repeated data (tokens > unique_tokens); fitting the "
            f"repetition constants needs at least {need}"
        )
    base_law = _base_law(base)
    groups = boot_groups(df, bootstrap_by, bootstrap)
    flags: list[Flag] = []
    data = _Data(N, D, U, logL, base_law)
    if starts not in ("paper", "wide"):
        raise ScalingError(f"starts: {starts!r} is not one of 'paper', 'wide'")
    grid = R_GRID_PAPER if starts == "paper" else R_GRID_WIDE
    start_pts = np.log(np.array([(a, b) for a in grid for b in grid]))
    other_optima: list[dict[str, float]] = []

    if free == "repetition":
        results = [(_minimize_rep(s0, data, delta), s0) for s0 in start_pts]
        best, start = min(results, key=lambda t: t[0].fun)
        theta = np.asarray(best.x, dtype=float)
        full = np.array(
            [
                math.log(base_law.A),
                math.log(base_law.B),
                math.log(base_law.E),
                base_law.alpha,
                base_law.beta,
                theta[0],
                theta[1],
            ]
        )
        objective = float(best.fun)
        _, g = repetition_objective(theta, data, delta)
        grad_norm = float(np.linalg.norm(g / np.exp(theta)))
        # the objective is flat along a ridge (more data decay <-> less parameter decay) and has
        # several optima: look for them from the wide grid as well and report the lower ones
        check = (
            results
            if starts == "wide"
            else results
            + [
                (_minimize_rep(s0, data, delta), s0)
                for s0 in np.log(np.array([(a, b) for a in R_GRID_WIDE for b in R_GRID_WIDE]))
            ]
        )
        seen: list[tuple[float, float, float]] = []
        for r, _ in sorted(check, key=lambda t: t[0].fun):
            rd, rn = float(np.exp(r.x[0])), float(np.exp(r.x[1]))
            if any(abs(math.log(rd / a)) < 0.01 and abs(math.log(rn / b)) < 0.01 for a, b, _ in seen):
                continue
            seen.append((rd, rn, float(r.fun)))
        other_optima = [
            {"R_D_star": a, "R_N_star": b, "objective": f}
            for a, b, f in seen
            if not (abs(math.log(a) - theta[0]) < 0.01 and abs(math.log(b) - theta[1]) < 0.01)
        ]
        lower = [o for o in other_optima if o["objective"] < objective * (1 - 1e-9)]
        if lower:
            o = lower[0]
            flags.append(
                Flag(
                    "local_optima",
                    f"the objective has several local optima: the lowest, {o['objective']:.6g} at R_D* = "
                    f"{o['R_D_star']:.4g}, R_N* = {o['R_N_star']:.4g}, is "
                    f"{100 * (1 - o['objective'] / objective):.2g}% below this one (found from the "
                    f"{starts} grid of starts); the repetition constants are poorly determined by these runs",
                )
            )
    else:
        b = base_law
        head = [math.log(b.A), math.log(b.B), math.log(b.E), b.alpha, b.beta]
        starts7 = np.array([head + list(s0) for s0 in start_pts])
        f0 = np.array([all_objective(s0, N, D, U, logL, delta) for s0 in starts7])
        order = np.argsort(f0)
        results = [(_minimize_all(starts7[k], N, D, U, logL, delta), starts7[k]) for k in order[:4]]
        best, start = min(results, key=lambda t: t[0].fun)
        full = np.asarray(best.x, dtype=float)
        theta = full[5:]
        objective = float(best.fun)
        grad_norm = float("nan")
    converged = bool(best.success)
    if not converged:
        flags.append(Flag("not_converged", f"L-BFGS-B did not converge: {best.message}"))
    for k, nm in enumerate(("R_D_star", "R_N_star")):
        if abs(theta[k] - LOG_R_BOUNDS[0]) < 1e-6 or abs(theta[k] - LOG_R_BOUNDS[1]) < 1e-6:
            flags.append(bound(nm, f"{nm} is on its bound ({math.exp(theta[k]):.4g})"))

    law_hat = _law_from_vec(full)

    def derived_of(law: DataConstrainedLaw) -> dict[str, float]:
        eff = law.data_efficiency(np.array([4.0, 16.0]))
        out = {"data_efficiency@4ep": float(eff[0]), "data_efficiency@16ep": float(eff[1])}
        if free == "all":
            out.update({"a": law.a, "b": law.b})
        return out

    derived = derived_of(law_hat)
    names = DataConstrainedLaw.param_names
    intervals: dict[str, tuple[float, float]] = {}
    samples = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    if bootstrap > 0:
        n = len(N)

        def refit(idx):
            if np.sum(D[idx] > U[idx]) < need:
                raise RefitFailed(f"fewer than {need} runs with repeated data drawn")
            if groups is not None and short_draw(idx, N, D):
                raise RefitFailed(SHORT)
            if free == "repetition":
                res = _minimize_rep(theta, data.subset(idx), delta)
                v = full.copy()
                v[5:] = res.x
            else:
                res = _minimize_all(full, N[idx], D[idx], U[idx], logL[idx], delta)
                v = np.asarray(res.x, dtype=float)
            if not res.success:
                raise RefitFailed("did not converge")
            return v

        boot = resample_loop(int(bootstrap), seed, row_draw(n, groups), refit, width=7)
        V = boot.rows
        lo_b = [b[0] for b in ALL_BOUNDS] if free == "all" else [None] * 5 + [LOG_R_BOUNDS[0]] * 2
        hi_b = [b[1] for b in ALL_BOUNDS] if free == "all" else [None] * 5 + [LOG_R_BOUNDS[1]] * 2
        mask, counts = on_bound(V, lo_b, hi_b, VEC_NAMES)
        boot_info = health(
            int(bootstrap), seed, level, failed=boot.failed, bound_mask=mask, bound_counts=counts, groups=groups
        )
        flags += health_flags(boot_info)
        if len(V) >= 2:
            samples = np.column_stack(
                [np.exp(V[:, 2]), np.exp(V[:, 0]), np.exp(V[:, 1]), V[:, 3], V[:, 4], np.exp(V[:, 5]), np.exp(V[:, 6])]
            )
            q = (1 - level) / 2
            free_names = names if free == "all" else ("R_D_star", "R_N_star")
            for nm in free_names:
                j = names.index(nm)
                lo, hi = np.quantile(samples[:, j], [q, 1 - q])
                intervals[nm] = (float(lo), float(hi))
            drows = [derived_of(DataConstrainedLaw(*s)) for s in samples]
            for key in derived:
                v = np.array([d[key] for d in drows])
                lo, hi = np.quantile(v, [q, 1 - q])
                intervals[key] = (float(lo), float(hi))
        else:
            flags.append(Flag("bootstrap_failed", "bootstrap failed on almost every resample: no intervals"))

    pred = np.log(np.asarray(law_hat.loss(N, D, U), dtype=float))
    res_log = pred - logL
    residuals = {
        "rmse_log_loss": float(np.sqrt(np.mean(res_log**2))),
        "mae_log_loss": float(np.mean(np.abs(res_log))),
        "max_abs_log_loss": float(np.max(np.abs(res_log))),
    }
    if math.isfinite(grad_norm):
        residuals["grad_norm"] = grad_norm

    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    C = np.asarray(df["flops"], dtype=float) if "flops" in df.columns else 6 * N * D
    what = "R_D*, R_N*" if free == "repetition" else "all parameters"
    prov = Provenance(
        citation=f"data-constrained fit by scaling to {meta.get('source') or 'runs'}",
        notes=f"Muennighoff et al. 2023 form; fitted {what} (Huber delta {delta:g} on log loss, "
        f"summed, L-BFGS-B from a grid); base law {getattr(base_law, 'name', 'base')}",
        fitted_flops=(float(C.min()), float(C.max())),
    )
    law = DataConstrainedLaw(*[law_hat.params[k] for k in names], name="datacon-fit", provenance=prov, samples=samples)
    law.params_convention = meta.get("params_convention", "total")
    info = data_info(df, cols=("params", "tokens", "loss", "unique_tokens"))
    return FitResult(
        method="datacon",
        form="datacon",
        law=law.to_dict(),
        params=law.params,
        intervals=intervals,
        derived=derived,
        objective=objective,
        converged=converged,
        flags=flags,
        bootstrap=boot_info,
        data=DataInfo(**info),
        worst_run=worst_run(df, N, D, np.exp(logL), pred),
        options={
            "free": free,
            "delta": delta,
            "bootstrap": bootstrap,
            "seed": seed,
            "level": level,
            "base": base_law.to_dict()["params"],
            "starts": starts,
            "n_starts": int(len(start_pts)),
            **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
        },
        residuals=residuals,
        flops_convention=meta.get("flops_convention", "6nd"),
        params_convention=law.params_convention,
        extra={
            "n_repeated_runs": n_rep,
            "start": {"R_D_star": float(math.exp(start[-2])), "R_N_star": float(math.exp(start[-1]))},
            "other_optima": other_optima,
            "iterations": int(best.nit),
        },
    )


__all__ = ["fit_datacon", "repetition_objective", "all_objective"]
