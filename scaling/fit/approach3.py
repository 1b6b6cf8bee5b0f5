"""Approach 3 of Hoffmann et al. (2022): fit the parametric loss surface directly.

    L(N, D) = E + A / N**alpha + B / D**beta

The procedure is the paper's, as the Epoch replication (Besiroglu et al. 2024, arXiv 2404.10102)
does it (see ../shared/REFERENCE.md section 2):

- parameters theta = (a, b, e, alpha, beta) with a = log A, b = log B, e = log E, so E, A, B stay
  positive; the predicted log loss is  LSE(a - alpha log N, b - beta log D, e);
- objective: the SUM over runs of Huber_delta(predicted - log L), delta = 1e-3 (with the mean,
  L-BFGS stops early: its tolerances are absolute on a number 240x smaller);
- L-BFGS(-B) with the exact gradient from every point of the grid alpha, beta in {0, .5, .., 2},
  e in {-1, -.5, .., 1}, a, b in {0, 5, .., 25} (4,500 starts); the best optimum wins.

How it is made fast while returning the optimum of that full multi-start search: all 4,500
starts are optimised *together*, as one batch of numpy arrays, by a damped Gauss-Newton
(Levenberg-Marquardt) iteration on the Huber objective (iteratively reweighted: weight
min(1, delta/|r|) per residual, which majorises the Huber loss), each start with its own damping
and its own accept/reject test on the exact objective. Far from the data the LSE saturates and a
gradient method crawls across the plateau; Gauss-Newton jumps. The search is a successive
halving: a few steps for every start, then the best few hundred (and the best of every (alpha,
beta) start cell, so no region of the grid is dropped wholesale) go on, both passes in single
precision; the distinct end points are iterated to convergence in double precision, and the best
few are polished by scipy's L-BFGS-B with the exact gradient and tight tolerances, inside the
bounds (``BOUNDS``). The reported optimum is that L-BFGS-B solution. ``benchmarks/bench_fit.py``
checks it against L-BFGS-B run from each of the 4,500 starts in a loop (same objective, same
gradient, same bounds): the same optimum, an objective no worse, >= 20x faster (and the slow
test ``test_equals_the_full_multistart_search`` does so on three data sets).

Internally the batch iteration centres log N and log D (a' = a - alpha mean(log N)), which
removes the strong a-alpha and b-beta correlation; everything a user sees is in (a, b, e, alpha,
beta) of the uncentred model.

``approach3_optimum`` is the numerical core (arrays in, optimum out); ``fit_approach3`` wraps it
with flags, derived quantities, a bootstrap (:mod:`scaling.fit.bootstrap`) and a FitResult.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.chinchilla import ChinchillaLaw
from ..runs import as_runs, data_info
from ._surface import (  # noqa: F401  (re-exported: the surface is part of this module's API)
    _HI,
    _LO,
    BATCH_ELEMENTS,
    BOUNDS,
    DELTA,
    GRID,
    LAW_NAMES,
    NAMES,
    POLISH_OPTIONS,
    BatchResult,
    _Data,
    _eval_rows,
    batch_rows,
    gradient_tolerance,
    huber,
    law_params_of,
    lm_batch,
    objective,
    polish,
    predict_log_loss,
    projected_gradient,
    start_grid,
)
from .bootstrap import bootstrap_approach3, chinchilla_derived, default_budgets, health_flags, percentile_intervals
from .result import BootstrapInfo, DataInfo, FitResult, worst_run
from .synthetic import simulate_runs  # noqa: F401  (re-exported for old callers)

# ------------------------------------------------------------------------------------------------
# the multi-start search


@dataclass
class Approach3Optimum:
    """The optimum of the multi-start search and how it was found."""

    theta: np.ndarray  # (a, b, e, alpha, beta)
    objective: float
    grad: np.ndarray  # exact gradient at theta
    converged: bool
    message: str
    start: np.ndarray  # the grid start whose basin holds the optimum
    n_starts: int
    local_minima: list[dict[str, Any]] = field(default_factory=list)  # distinct end points, best first
    iterations: int = 0
    seconds: float = 0.0

    @property
    def params(self) -> dict[str, float]:
        a, b, e, al, be = (float(v) for v in self.theta)
        return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": al, "beta": be}


def _distinct(theta: np.ndarray, f: np.ndarray, k: int, tol: float = 1e-3) -> np.ndarray:
    """Indices of up to ``k`` rows with the lowest f whose parameters differ by more than ``tol``."""
    order = np.argsort(np.where(np.isfinite(f), f, np.inf), kind="stable")
    keep: list[int] = []
    for i in order:
        if not np.isfinite(f[i]):
            break
        if all(np.max(np.abs(theta[i] - theta[j])) > tol for j in keep):
            keep.append(int(i))
            if len(keep) >= k:
                break
    return np.array(keep, dtype=int)


def _survivors(starts: np.ndarray, f: np.ndarray, keep_best: int, keep_per_cell: int) -> np.ndarray:
    """Rows that go on after the first pass: the ``keep_best`` lowest objectives overall, and the
    ``keep_per_cell`` lowest of every (alpha, beta) start pair, so every region of exponents the
    grid covers is still explored by its best starts."""
    ff = np.where(np.isfinite(f), f, np.inf)
    order = np.argsort(ff, kind="stable")
    chosen = np.zeros(len(f), dtype=bool)
    chosen[order[:keep_best]] = True
    _, cell = np.unique(np.round(starts[:, 3:5], 9), axis=0, return_inverse=True)
    cell = np.asarray(cell).ravel()
    rank_in_cell = np.empty(len(f), dtype=int)
    for c in np.unique(cell):
        members = order[cell[order] == c]
        rank_in_cell[members] = np.arange(members.size)
    chosen |= rank_in_cell < keep_per_cell
    chosen &= np.isfinite(ff)
    return np.flatnonzero(chosen)


def approach3_optimum(
    logN,
    logD,
    logL,
    *,
    delta: float = DELTA,
    grid: Mapping[str, Sequence[float]] | np.ndarray | None = None,
    weights=None,
    first_pass: int = 6,
    keep_best: int = 256,
    keep_per_cell: int = 8,
    second_pass: int = 30,
    n_refine: int = 32,
    n_polish: int = 4,
    extra_starts: np.ndarray | None = None,
) -> Approach3Optimum:
    """The best optimum of the Huber objective over all grid starts.

    logN, logD, logL: arrays (n,) of log parameters, log tokens, log loss.
    grid: starts (see ``start_grid``; default the paper's 4,500).
    weights: optional per-run multiplicities.
    The search (successive halving of a batched Gauss-Newton iteration over every start, the
    first two stages in single precision): ``first_pass`` steps for every start; then the
    ``keep_best`` best rows and the ``keep_per_cell`` best of each (alpha, beta) start pair go on
    for ``second_pass`` steps; the
    ``n_refine`` best distinct end points are iterated to convergence; the ``n_polish`` best of
    those are polished with L-BFGS-B (exact gradient, tight tolerances). The best wins.
    extra_starts: more (S, 5) starts (e.g. a warm start), searched with the grid.
    """
    t0 = time.perf_counter()
    logN = np.asarray(logN, dtype=float)
    logD = np.asarray(logD, dtype=float)
    logL = np.asarray(logL, dtype=float)
    if not (logN.shape == logD.shape == logL.shape) or logN.ndim != 1:
        raise ScalingError("approach3: logN, logD and logL must be 1-D arrays of the same length")
    if not (np.all(np.isfinite(logN)) and np.all(np.isfinite(logD)) and np.all(np.isfinite(logL))):
        raise ScalingError("approach3: parameters, tokens and losses must be positive and finite")
    if delta <= 0:
        raise ScalingError("delta: the Huber threshold must be positive")
    starts = start_grid(grid)
    if extra_starts is not None:
        starts = np.vstack([starts, np.atleast_2d(np.asarray(extra_starts, dtype=float))])
    d = _Data(logN, logD, logL, delta)
    d32 = d.with_dtype(np.float32)  # exploration in single precision, the answer in double
    w = None if weights is None else np.asarray(weights, dtype=float)

    # 1. every start: a few damped Gauss-Newton steps (most leave the plateaus of the LSE here)
    first = lm_batch(starts, d32, weights=w, max_iter=first_pass)
    alive = _survivors(starts, first.f, keep_best, keep_per_cell)
    # 2. the survivors go on; converged rows drop out as they finish
    mid = lm_batch(first.theta[alive], d32, weights=w, max_iter=second_pass)
    ends = first.theta.copy()
    fends = first.f.copy()
    ends[alive] = mid.theta
    fends[alive] = mid.f
    # 3. merge starts that reached the same basin; iterate the distinct best to convergence
    pick = _distinct(ends, fends, n_refine, tol=1e-2)
    second = lm_batch(ends[pick], d, weights=w, max_iter=2000)
    # 3. polish the best distinct end points with L-BFGS-B (exact gradient, tight tolerances)
    order = _distinct(second.theta, second.f, n_polish, tol=1e-4)
    results = []
    for j in order:
        res = polish(second.theta[j], logN, logD, logL, delta, w)
        x = np.clip(np.asarray(res.x, dtype=float), _LO, _HI)
        fx = objective(x, logN, logD, logL, delta, w, grad=False)
        if fx > second.f[j]:  # L-BFGS-B never makes it worse, but keep the better of the two
            x, fx = second.theta[j].copy(), float(second.f[j])
        results.append((fx, x, res, int(pick[j])))
    results.sort(key=lambda t: t[0])
    fbest, xbest, rbest, ibest = results[0]
    fgrad = objective(xbest, logN, logD, logL, delta, w)[1]

    # the start credited with the optimum: among starts that reached it, the one that was best at the outset
    reached = np.flatnonzero(np.max(np.abs(ends - ends[ibest]), axis=1) <= 1e-2)
    f_init = _eval_rows(
        d.clip(d.centre(starts[reached])),
        d,
        None if w is None else np.broadcast_to(w, (len(reached), len(w))),
        grad=False,
    )[0]
    start = starts[reached[int(np.argmin(f_init))]] if reached.size else starts[ibest]

    minima = []
    for j in _distinct(second.theta, second.f, 8, tol=1e-3):
        n_basin = int(np.sum(np.max(np.abs(ends - second.theta[j]), axis=1) <= 5e-2))
        minima.append(
            {
                "objective": float(second.f[j]),
                "theta": [float(v) for v in second.theta[j]],
                "converged": bool(second.converged[j]),
                "n_starts_near": n_basin,
            }
        )
    pg = projected_gradient(xbest, fgrad)
    gmax = float(np.max(np.abs(pg)))
    ok_grad = gmax <= gradient_tolerance(logN, logD, delta, w)
    converged = bool(ok_grad)
    message = str(rbest.message)
    if not ok_grad:
        message += f" (projected gradient {gmax:.3g} not near zero)"
    return Approach3Optimum(
        theta=np.asarray(xbest, dtype=float),
        objective=float(fbest),
        grad=np.asarray(fgrad),
        converged=converged,
        message=message,
        start=np.asarray(start, dtype=float),
        n_starts=int(len(starts)),
        local_minima=minima,
        iterations=int(first.iterations.sum() + mid.iterations.sum() + second.iterations.sum()),
        seconds=time.perf_counter() - t0,
    )


def reference_multistart(
    logN,
    logD,
    logL,
    *,
    delta: float = DELTA,
    grid=None,
    options: Mapping | None = None,
    starts_idx: Sequence[int] | None = None,
):
    """The straightforward search: scipy L-BFGS-B (exact gradient, same bounds) from every start in
    a Python loop, scipy's default tolerances unless ``options`` says otherwise. For benchmarks and
    tests; returns (best x, best f, list of f per start)."""
    from scipy.optimize import minimize

    starts = start_grid(grid)
    if starts_idx is not None:
        starts = starts[np.asarray(starts_idx, dtype=int)]
    best_x, best_f, fs = None, math.inf, []
    for s0 in starts:
        res = minimize(
            objective,
            s0,
            args=(logN, logD, logL, delta),
            jac=True,
            method="L-BFGS-B",
            bounds=BOUNDS,
            options=dict(options or {}),
        )
        fs.append(float(res.fun))
        if res.fun < best_f:
            best_f, best_x = float(res.fun), np.asarray(res.x, dtype=float)
    return best_x, best_f, fs


# ------------------------------------------------------------------------------------------------
# the fit


def split_runs(runs: Any) -> tuple[Any, Any, Any]:
    """The surface fitters' ``runs``: a table (or path), or a tuple (N, D, L) of arrays -> (N, D, L)
    for ``_arrays_from`` (D and L None for a table)."""
    if isinstance(runs, tuple):
        if len(runs) != 3:
            raise ScalingError(f"runs: a tuple must be three arrays (N, D, L), got {len(runs)} items")
        return runs
    return runs, None, None


def _arrays_from(N, D, L):
    """(runs DataFrame, N, D, L) from a runs table / path, or from three arrays."""
    if D is None and L is None:
        if N is None:
            raise ScalingError("approach3: give a runs table (or a path), or three arrays N, D, L")
        df = as_runs(N)
    else:
        if D is None or L is None:
            raise ScalingError("approach3: give all three arrays N (parameters), D (tokens) and L (loss)")
        arrs = [np.atleast_1d(np.asarray(v, dtype=float)) for v in (N, D, L)]
        if not (arrs[0].shape == arrs[1].shape == arrs[2].shape) or arrs[0].ndim != 1:
            raise ScalingError(
                f"approach3: N, D and L must be 1-D arrays of the same length (got shapes "
                f"{', '.join(str(a.shape) for a in arrs)})"
            )
        df = pd.DataFrame({"params": arrs[0], "tokens": arrs[1], "loss": arrs[2]})
        df["flops"] = 6.0 * df["params"] * df["tokens"]
        for role, v in zip(("params", "tokens", "loss"), arrs):
            bad = ~np.isfinite(v) | (v <= 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ScalingError(
                    f"approach3: {role} at index {i} is {v[i]:g}; it must be positive and finite"
                    + (f" ({int(bad.sum()) - 1} more such values)" if bad.sum() > 1 else "")
                )
    for c in ("params", "tokens", "loss"):
        if c not in df.columns:
            raise ScalingError(f"approach3: the runs have no {c!r} column")
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    for role, v in (("params", N), ("tokens", D), ("loss", L)):
        bad = ~np.isfinite(v) | (v <= 0)
        if bad.any():
            row = df.index[int(np.flatnonzero(bad)[0])]
            raise ScalingError(f"approach3: row {row}: {role} is {v[bad][0]:g}; it must be positive and finite")
    return df, N, D, L


def check_design(N: np.ndarray, D: np.ndarray, what: str = "Approach 3") -> None:
    """Raise a one-line error when the runs cannot determine a 5-parameter surface."""
    n = len(N)
    if n < 5:
        raise ScalingError(
            f"{what} fits 5 parameters (E, A, B, alpha, beta); {n} run{'s' if n != 1 else ''} "
            "cannot determine them (need at least 5, and in practice dozens)"
        )
    if len(np.unique(N)) < 2:
        raise ScalingError(
            f"all {n} runs have the same size (params = {N[0]:.4g}); {what} needs runs at 2 or "
            "more model sizes (and several token counts per size)"
        )
    if len(np.unique(D)) < 2:
        raise ScalingError(
            f"all {n} runs have the same token count (tokens = {D[0]:.4g}); {what} needs runs at 2 or more token counts"
        )


def flags_for(opt: Approach3Optimum, grid=None) -> list[str]:
    """Human-readable warnings about an optimum: convergence, bounds, grid edge."""
    flags: list[str] = []
    if not opt.converged:
        flags.append(f"not converged: {opt.message}")
    th = opt.theta
    shown = {
        "a": lambda v: f"A = {math.exp(v):.4g}",
        "b": lambda v: f"B = {math.exp(v):.4g}",
        "e": lambda v: f"E = {math.exp(v):.4g}",
        "alpha": lambda v: f"alpha = {v:.4g}",
        "beta": lambda v: f"beta = {v:.4g}",
    }
    for k, nm in enumerate(NAMES):
        lo, hi = BOUNDS[k]
        if th[k] <= lo + 1e-6 * max(1.0, abs(lo)):
            flags.append(
                f"optimum on a bound: {nm} at its lower bound {lo:g} ({shown[nm](th[k])})"
                + ("; that term is a constant, the law is degenerate" if nm in ("alpha", "beta") else "")
            )
        elif th[k] >= hi - 1e-6 * max(1.0, abs(hi)):
            flags.append(f"optimum on a bound: {nm} at its upper bound {hi:g} ({shown[nm](th[k])})")
    if grid is None or isinstance(grid, Mapping):
        S = start_grid(grid)
        lo_g, hi_g = S.min(axis=0), S.max(axis=0)
        edge = []
        for k, nm in enumerate(NAMES):
            if lo_g[k] == hi_g[k]:
                continue
            at_lo = math.isclose(opt.start[k], lo_g[k], abs_tol=1e-12)
            at_hi = math.isclose(opt.start[k], hi_g[k], abs_tol=1e-12)
            if at_lo and th[k] < lo_g[k]:
                edge.append(f"{nm} start {lo_g[k]:g}, optimum {th[k]:.4g} below the grid")
            elif at_hi and th[k] > hi_g[k]:
                edge.append(f"{nm} start {hi_g[k]:g}, optimum {th[k]:.4g} above the grid")
        if edge:
            flags.append(
                "best start on the grid's edge and the optimum beyond it ("
                + "; ".join(edge)
                + "): the grid of starts may not cover the optimum's region"
            )
    return flags


SEARCH_OPTIONS = ("first_pass", "keep_best", "keep_per_cell", "second_pass", "n_refine", "n_polish", "extra_starts")


def fit_approach3(
    runs: Any,
    *,
    budgets: Sequence[float] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    delta: float = DELTA,
    grid=None,
    workers: int | None = None,
    boot_starts: int = 3,
    guard_starts: bool = True,
    name: str = "approach3-fit",
    first_pass: int | None = None,
    keep_best: int | None = None,
    keep_per_cell: int | None = None,
    second_pass: int | None = None,
    n_refine: int | None = None,
    n_polish: int | None = None,
    extra_starts: np.ndarray | None = None,
) -> FitResult:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta by Approach 3 -> FitResult (form "chinchilla").

    runs: a runs DataFrame, a path that ``scaling.runs.load_runs`` reads, or a tuple (N, D, L) of
        arrays of parameters, tokens and final losses.
    delta: Huber threshold on log-loss residuals (the paper's 1e-3).
    grid: starts (``start_grid``): default the paper's 4,500.
    bootstrap: number of resamples over runs for percentile intervals (0: none); seeded by
        ``seed``; ``workers`` processes (None: all cores). Samples go into the law.
    level: interval level. budgets: FLOP budgets at which N_opt, D_opt, tokens per parameter
        and the frontier loss are reported (default: five decades from one below the largest
        run's 6ND, :func:`scaling.fit.bootstrap.default_budgets`).
    boot_starts: how many other local optima of the full-data search each refit also starts from.
    guard_starts: also give each refit a few steps from the grid start credited with the optimum
        (a guard against a resample whose optimum lies in another basin).
    first_pass .. extra_starts: the search options of ``approach3_optimum`` (None: its default).
    """
    t0 = time.perf_counter()
    given = {
        "first_pass": first_pass,
        "keep_best": keep_best,
        "keep_per_cell": keep_per_cell,
        "second_pass": second_pass,
        "n_refine": n_refine,
        "n_polish": n_polish,
        "extra_starts": extra_starts,
    }
    search: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    df, Nv, Dv, Lv = _arrays_from(*split_runs(runs))
    check_design(Nv, Dv)
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    if bootstrap < 0:
        raise ScalingError("bootstrap: the number of resamples must be >= 0")
    budgets = tuple(float(c) for c in (budgets if budgets is not None else default_budgets(Nv, Dv)))
    logN, logD, logL = np.log(Nv), np.log(Dv), np.log(Lv)
    opt = approach3_optimum(logN, logD, logL, delta=delta, grid=grid, **search)
    flags = flags_for(opt, grid)
    P = law_params_of(opt.theta)
    E, A, B, al, be = (float(v) for v in P)
    degenerate = al <= 0 or be <= 0
    derived = {} if degenerate else {k: float(v[0]) for k, v in chinchilla_derived(P, budgets).items()}

    intervals: dict[str, tuple[float, float]] = {}
    samples = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    boot_seconds = 0.0
    if bootstrap > 0:
        others = [
            np.asarray(m["theta"])
            for m in opt.local_minima
            if np.max(np.abs(np.asarray(m["theta"]) - opt.theta)) > 1e-3
        ][:boot_starts]
        extra = np.array(others) if others else None
        guards = np.atleast_2d(opt.start) if guard_starts else None
        bs = bootstrap_approach3(
            logN,
            logD,
            logL,
            opt.theta,
            n_boot=int(bootstrap),
            seed=seed,
            delta=delta,
            extra_starts=extra,
            guard_starts=guards,
            workers=workers,
        )
        boot_seconds = bs.seconds
        boot_info = bs.health(seed, level)  # failed refits left out, on-bound refits kept (and counted)
        samples = bs.law_params()
        if len(samples) >= 2:
            vals = {nm: samples[:, k] for k, nm in enumerate(LAW_NAMES)}
            vals.update(chinchilla_derived(samples, budgets))
            intervals = percentile_intervals(vals, level)
        else:
            samples = None
            flags.append("bootstrap: too few refits succeeded for intervals")
        flags += health_flags(boot_info)

    pred = predict_log_loss(opt.theta, logN, logD)
    res = pred - logL
    residuals = {
        "rmse_log_loss": float(np.sqrt(np.mean(res**2))),
        "mae_log_loss": float(np.mean(np.abs(res))),
        "max_abs_log_loss": float(np.max(np.abs(res))),
        "rmse_rel_loss": float(np.sqrt(np.mean(np.expm1(res) ** 2))),
        "frac_within_delta": float(np.mean(np.abs(res) <= delta)),
        "grad_norm": float(np.linalg.norm(projected_gradient(opt.theta, opt.grad))),
    }

    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    pconv = meta.get("params_convention", "total")
    fconv = meta.get("flops_convention", "6nd")
    C = np.asarray(df["flops"], dtype=float) if "flops" in df.columns else 6.0 * Nv * Dv
    prov = Provenance(
        citation=f"Approach 3 fit by scaling to {meta.get('source') or 'runs'}",
        notes=f"Huber (delta {delta:g}) on log-loss residuals, summed; {len(Nv)} runs; "
        f"{opt.n_starts} starts; N counts {pconv} parameters",
        fitted_flops=(float(C.min()), float(C.max())),
    )
    if degenerate:
        law_dict = {
            "form": "chinchilla",
            "name": name,
            "params": dict(zip(LAW_NAMES, map(float, P))),
            "flops_convention": fconv,
            "params_convention": pconv,
            "citation": prov.citation,
            "url": "",
            "notes": prov.notes + "; DEGENERATE (an exponent is 0)",
            "fitted_flops": list(prov.fitted_flops or ()),
        }
    else:
        law = ChinchillaLaw(E, A, B, al, be, name=name, provenance=prov, samples=samples)
        law.params_convention = pconv
        law.flops_convention = fconv
        law_dict = law.to_dict()
    info = data_info(df, cols=("params", "tokens", "loss"))
    return FitResult(
        method="approach3",
        form="chinchilla",
        law=law_dict,
        params={"E": E, "A": A, "B": B, "alpha": al, "beta": be},
        intervals=intervals,
        derived=derived,
        objective=float(opt.objective),
        converged=bool(opt.converged),
        flags=flags,
        bootstrap=boot_info,
        data=DataInfo(**info),
        worst_run=worst_run(df, Nv, Dv, Lv, pred),
        options={
            "delta": delta,
            "level": level,
            "bootstrap": int(bootstrap),
            "seed": seed,
            "grid": "paper (4,500 starts)" if grid is None else "custom",
            "n_starts": opt.n_starts,
            "budgets": list(budgets),
            **{k: v for k, v in search.items() if np.isscalar(v)},
        },
        residuals=residuals,
        flops_convention=fconv,
        params_convention=pconv,
        extra={
            "theta": dict(zip(NAMES, map(float, opt.theta))),
            "gradient": [float(v) for v in opt.grad],
            "start": dict(zip(NAMES, map(float, opt.start))),
            "optimizer_message": opt.message,
            "local_minima": opt.local_minima,
            "seconds": {
                "search": round(opt.seconds, 4),
                "bootstrap": round(boot_seconds, 4),
                "total": round(time.perf_counter() - t0, 4),
            },
        },
    )


__all__ = [
    "fit_approach3",
    "approach3_optimum",
    "Approach3Optimum",
    "objective",
    "predict_log_loss",
    "huber",
    "start_grid",
    "GRID",
    "BOUNDS",
    "NAMES",
    "DELTA",
    "polish",
    "lm_batch",
    "reference_multistart",
    "projected_gradient",
    "gradient_tolerance",
    "simulate_runs",
    "check_design",
    "law_params_of",
]
