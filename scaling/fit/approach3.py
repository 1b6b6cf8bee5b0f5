"""Approach 3 of Hoffmann et al. (2022, arXiv 2203.15556): fit the parametric loss surface directly.

    L(N, D) = E + A / N**alpha + B / D**beta

The procedure is the paper's, as the Epoch replication (Besiroglu et al. 2024, arXiv 2404.10102)
does it:

- parameters theta = (a, b, e, alpha, beta) with a = log A, b = log B, e = log E, so E, A, B stay
  positive; the predicted log loss is  LSE(a - alpha log N, b - beta log D, e)
  (:mod:`scaling.fit._surface`);
- objective: the SUM over runs of Huber_delta(predicted - log L), delta = 1e-3 (with the mean,
  L-BFGS stops early: its tolerances are absolute on a number 240x smaller);
- L-BFGS(-B) with the exact gradient from every point of the grid alpha, beta in {0, .5, .., 2},
  e in {-1, -.5, .., 1}, a, b in {0, 5, .., 25} (4,500 starts); the best optimum wins
  (:func:`scaling.fit.multistart.approach3_optimum` returns the optimum of that search, fast).

``fit_approach3`` wraps the search with the runs' input checks, flags (convergence, bounds, grid
edge), derived quantities, a bootstrap (:mod:`scaling.fit.bootstrap`) and a FitResult.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..laws.base import Provenance
from ..laws.chinchilla import ChinchillaLaw
from ..planner.result import Flag
from ..runs import as_runs, data_info
from ._surface import BOUNDS, DELTA, LAW_NAMES, NAMES, law_params_of, predict_log_loss, projected_gradient, start_grid
from .bootstrap import bootstrap_approach3, chinchilla_derived, default_budgets, health_flags, percentile_intervals
from .clusters import boot_groups
from .flags import bound
from .multistart import Approach3Optimum, approach3_optimum
from .result import BootstrapInfo, DataInfo, FitResult, worst_run

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


def flags_for(opt: Approach3Optimum, grid=None) -> list[Flag]:
    """Flags about an optimum: convergence, bounds, grid edge."""
    flags: list[Flag] = []
    if not opt.converged:
        flags.append(Flag("not_converged", f"not converged: {opt.message}"))
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
                bound(
                    nm,
                    f"optimum on a bound: {nm} at its lower bound {lo:g} ({shown[nm](th[k])})"
                    + ("; that term is a constant, the law is degenerate" if nm in ("alpha", "beta") else ""),
                )
            )
        elif th[k] >= hi - 1e-6 * max(1.0, abs(hi)):
            flags.append(bound(nm, f"optimum on a bound: {nm} at its upper bound {hi:g} ({shown[nm](th[k])})"))
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
                Flag(
                    "grid_edge",
                    "best start on the grid's edge and the optimum beyond it ("
                    + "; ".join(edge)
                    + "): the grid of starts may not cover the optimum's region",
                )
            )
    return flags


SEARCH_OPTIONS = ("first_pass", "keep_best", "keep_per_cell", "second_pass", "n_refine", "n_polish", "extra_starts")


def surface_law_dict(
    P: Sequence[float] | np.ndarray,
    *,
    name: str,
    prov: Provenance,
    samples,
    pconv: str,
    fconv: str,
    degenerate: str | None = None,
) -> dict[str, Any]:
    """The fitted surface (E, A, B, alpha, beta) as a law dict for the FitResult. A degenerate fit
    (``degenerate`` says why) is stored as plain numbers marked DEGENERATE: ChinchillaLaw refuses it,
    and nothing plans with it."""
    if degenerate is not None:
        return {
            "form": "chinchilla",
            "name": name,
            "params": dict(zip(LAW_NAMES, map(float, P))),
            "flops_convention": fconv,
            "params_convention": pconv,
            "citation": prov.citation,
            "url": "",
            "notes": f"{prov.notes}; DEGENERATE ({degenerate})",
            "fitted_flops": list(prov.fitted_flops or ()),
        }
    law = ChinchillaLaw(*map(float, P), name=name, provenance=prov, samples=samples)
    law.params_convention = pconv
    law.flops_convention = fconv
    return law.to_dict()


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
    bootstrap_by: Sequence[str] | str | None = None,
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
    bootstrap_by: columns whose groups (e.g. ``["trunk"]``) are resampled instead of runs, each drawn
        group with all its runs (:mod:`scaling.fit.clusters`); None: the row bootstrap.
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
    groups = boot_groups(df, bootstrap_by, bootstrap)
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
            groups=groups,
        )
        boot_seconds = bs.seconds
        boot_info = bs.health(seed, level, groups=groups)  # failed refits left out, on-bound refits kept (and counted)
        samples = bs.law_params()
        if len(samples) >= 2:
            vals = {nm: samples[:, k] for k, nm in enumerate(LAW_NAMES)}
            vals.update(chinchilla_derived(samples, budgets))
            intervals = percentile_intervals(vals, level)
        else:
            samples = None
            flags.append(Flag("bootstrap_failed", "bootstrap: too few refits succeeded for intervals"))
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
    law_dict = surface_law_dict(
        P,
        name=name,
        prov=prov,
        samples=samples,
        pconv=pconv,
        fconv=fconv,
        degenerate="an exponent is 0" if degenerate else None,
    )
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
            **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
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


__all__ = ["fit_approach3", "check_design", "flags_for", "split_runs"]
