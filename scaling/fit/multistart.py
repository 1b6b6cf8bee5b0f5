"""The multi-start search of Approach 3 (Hoffmann et al. 2022, arXiv 2203.15556), as the Epoch
replication does it (Besiroglu et al. 2024, arXiv 2404.10102): the best optimum of the summed
Huber objective on log-loss residuals (:mod:`scaling.fit._surface`) over the paper's grid of
starts, alpha, beta in {0, .5, .., 2}, e in {-1, -.5, .., 1}, a, b in {0, 5, .., 25} (4,500).

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
checks it against L-BFGS-B run from each of the 4,500 starts in a loop (``reference_multistart``:
same objective, same gradient, same bounds): the same optimum, an objective no worse, >= 20x
faster (and the slow test ``test_equals_the_full_multistart_search`` does so on three data sets).

Internally the batch iteration centres log N and log D (a' = a - alpha mean(log N)), which
removes the strong a-alpha and b-beta correlation; everything a user sees is in (a, b, e, alpha,
beta) of the uncentred model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ScalingError
from ._surface import (
    _HI,
    _LO,
    BOUNDS,
    DELTA,
    _Data,
    _eval_rows,
    gradient_tolerance,
    lm_batch,
    objective,
    polish,
    projected_gradient,
    start_grid,
)


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


__all__ = ["approach3_optimum", "Approach3Optimum", "reference_multistart"]
