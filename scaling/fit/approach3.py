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
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import ScalingError

DELTA = 1e-3
NAMES = ("a", "b", "e", "alpha", "beta")            # the optimised vector, in this order
LAW_NAMES = ("E", "A", "B", "alpha", "beta")        # ChinchillaLaw's parameter order

# The paper's grid of starts (4,500 points).
GRID: dict[str, tuple[float, ...]] = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}

# Box bounds for (a, b, e, alpha, beta). They keep E, A, B positive (logs) and finite, and the
# exponents non-negative and below anything seen in language modelling; alpha = beta = 0 is
# allowed (the grid starts there) but makes the term a constant, so an optimum there is flagged.
BOUNDS: tuple[tuple[float, float], ...] = (
    (-20.0, 100.0),   # a = log A
    (-20.0, 100.0),   # b = log B
    (-20.0, 5.0),     # e = log E   (E from 2e-9 to 148 nats)
    (0.0, 4.0),       # alpha
    (0.0, 4.0),       # beta
)
_LO = np.array([b[0] for b in BOUNDS])
_HI = np.array([b[1] for b in BOUNDS])

# L-BFGS-B options for the final polish: scipy's default ftol (2.2e-9 relative to max(|f|, 1))
# is absolute for an objective of ~1e-3 and stops early; these are near machine precision.
POLISH_OPTIONS = {"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 20}

# How many (start, run) elements the batched iteration evaluates at once. The search holds about
# 25 temporaries of that many numbers (100-200 bytes an element), so 2**21 keeps it near 0.3 GB
# whatever the table: all 4,500 starts at once up to ~460 runs, fewer starts per pass beyond.
BATCH_ELEMENTS = 1 << 21


# ------------------------------------------------------------------------------------------------
# the model and the objective


def start_grid(grid: Mapping[str, Sequence[float]] | np.ndarray | None = None) -> np.ndarray:
    """The starts as an (S, 5) array of (a, b, e, alpha, beta); default the paper's 4,500.

    ``grid`` is a mapping name -> values (the Cartesian product is taken; missing names use the
    paper's values) or an explicit (S, 5) array.
    """
    if grid is None:
        grid = GRID
    if isinstance(grid, Mapping):
        unknown = set(grid) - set(NAMES)
        if unknown:
            raise ScalingError(f"grid: unknown parameter(s) {sorted(unknown)}; the grid is over {', '.join(NAMES)}")
        axes = [np.asarray(grid.get(k, GRID[k]), dtype=float).ravel() for k in NAMES]
        if any(ax.size == 0 for ax in axes):
            raise ScalingError("grid: every parameter needs at least one start value")
        mesh = np.meshgrid(*axes, indexing="ij")
        S = np.column_stack([m.ravel() for m in mesh])
    else:
        S = np.atleast_2d(np.asarray(grid, dtype=float))
        if S.ndim != 2 or S.shape[1] != 5:
            raise ScalingError(f"grid: explicit starts must be an (S, 5) array of (a, b, e, alpha, beta), got shape "
                               f"{np.shape(grid)}")
    if not np.all(np.isfinite(S)):
        raise ScalingError("grid: starts must be finite")
    return S


def predict_log_loss(theta, logN, logD) -> np.ndarray:
    """log L = LSE(a - alpha log N, b - beta log D, e); theta (..., 5) against data (n,) -> (..., n)."""
    T = np.asarray(theta, dtype=float)
    a, b, e, al, be = (T[..., k, None] for k in range(5))
    u1 = a - al * np.asarray(logN, dtype=float)
    u2 = b - be * np.asarray(logD, dtype=float)
    m = np.maximum(np.maximum(u1, u2), e)
    return m + np.log(np.exp(u1 - m) + np.exp(u2 - m) + np.exp(e - m))


def huber(r, delta: float = DELTA) -> np.ndarray:
    """Huber loss: r^2/2 for |r| <= delta, delta (|r| - delta/2) beyond."""
    r = np.asarray(r, dtype=float)
    ar = np.abs(r)
    return np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))


def objective(theta, logN, logD, logL, delta: float = DELTA, weights=None, grad: bool = True):
    """Sum over runs of Huber_delta(predicted - observed log loss), and its exact gradient.

    theta: (a, b, e, alpha, beta). weights: optional per-run multiplicities (a bootstrap
    resample is integer weights). Returns f, or (f, g) with g of shape (5,).
    """
    a, b, e, al, be = (float(v) for v in theta)
    u1 = a - al * logN
    u2 = b - be * logD
    m = np.maximum(np.maximum(u1, u2), e)
    e1 = np.exp(u1 - m)
    e2 = np.exp(u2 - m)
    e3 = np.exp(e - m)
    s = e1 + e2 + e3
    r = m + np.log(s) - logL
    ar = np.abs(r)
    h = np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))
    if weights is not None:
        h = h * weights
    f = float(np.sum(h))
    if not grad:
        return f
    psi = np.clip(r, -delta, delta)
    if weights is not None:
        psi = psi * weights
    q1 = psi * e1 / s
    q2 = psi * e2 / s
    g = np.array([q1.sum(), q2.sum(), float(np.sum(psi * e3 / s)), -float(q1 @ logN), -float(q2 @ logD)])
    return f, g


def projected_gradient(theta, g, bounds=BOUNDS) -> np.ndarray:
    """The gradient with the components that push against an active bound set to zero."""
    t = np.asarray(theta, dtype=float)
    g = np.asarray(g, dtype=float).copy()
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    g[(t <= lo + 1e-12) & (g > 0)] = 0.0
    g[(t >= hi - 1e-12) & (g < 0)] = 0.0
    return g


# ------------------------------------------------------------------------------------------------
# the batched Levenberg-Marquardt iteration (all starts at once)


class _Data:
    """Centred data and the moment matrix shared by every row of a batch.

    ``dtype`` float32 halves the memory traffic of the batched iteration; it is used for the
    exploratory passes over many starts, never for the answer (see ``approach3_optimum``).
    """

    def __init__(self, logN, logD, logL, delta, dtype=np.float64):
        self.dtype = np.dtype(dtype)
        self.logN = np.asarray(logN, dtype=float)
        self.logD = np.asarray(logD, dtype=float)
        self.xm = float(self.logN.mean())
        self.ym = float(self.logD.mean())
        x = self.logN - self.xm
        y = self.logD - self.ym
        self.delta = float(delta)
        one = np.ones_like(x)
        self.logL = np.asarray(logL, dtype=float).astype(self.dtype)
        self.x = x.astype(self.dtype)
        self.y = y.astype(self.dtype)
        self.V = np.column_stack([one, x, x * x, y, y * y, x * y]).astype(self.dtype)   # (n, 6)
        self.V3 = np.column_stack([one, x, y]).astype(self.dtype)                        # (n, 3)

    def with_dtype(self, dtype) -> "_Data":
        return _Data(self.logN, self.logD, np.asarray(self.logL, dtype=float), self.delta, dtype)

    # centred <-> user coordinates
    def centre(self, T):
        C = np.array(T, dtype=float, copy=True)
        C[:, 0] -= C[:, 3] * self.xm
        C[:, 1] -= C[:, 4] * self.ym
        return C

    def uncentre(self, C):
        T = np.array(C, dtype=float, copy=True)
        T[:, 0] += T[:, 3] * self.xm
        T[:, 1] += T[:, 4] * self.ym
        return T

    def clip(self, C):
        return self.centre(np.clip(self.uncentre(C), _LO, _HI)).astype(self.dtype, copy=False)


def _terms(C, d: _Data):
    """Softmax weights and residuals for centred rows C (S, 5)."""
    u1 = C[:, 0:1] - C[:, 3:4] * d.x
    u2 = C[:, 1:2] - C[:, 4:5] * d.y
    e = C[:, 2:3]
    m = np.maximum(np.maximum(u1, u2), e)
    e1 = np.exp(u1 - m)
    e2 = np.exp(u2 - m)
    e3 = np.exp(e - m)
    s = e1 + e2 + e3
    r = m + np.log(s) - d.logL
    inv = 1.0 / s
    return r, e1 * inv, e2 * inv, e3 * inv


def _fval(r, delta, W=None):
    ar = np.abs(r)
    h = np.where(ar <= delta, 0.5 * r * r, delta * (ar - 0.5 * delta))
    if W is not None:
        h = h * W
    return h.sum(axis=1, dtype=np.float64)


def _grad_hess(r, w1, w2, w3, d: _Data, W=None):
    """Exact gradient and the reweighted Gauss-Newton matrix (centred coordinates), batched."""
    delta = d.delta
    ar = np.abs(r)
    psi = np.clip(r, -delta, delta)
    irls = delta / np.maximum(ar, delta)   # min(1, delta/|r|): the IRLS weight of the Huber loss
    if W is not None:
        psi = psi * W
        irls = irls * W
    S, n = r.shape
    # gradient: sum psi * dp/dtheta, dp/d(a, b, e, alpha, beta) = (w1, w2, w3, -x w1, -y w2)
    buf = np.empty((6, S, n), dtype=r.dtype)
    np.multiply(psi, w1, out=buf[0])
    np.multiply(psi, w2, out=buf[1])
    np.multiply(psi, w3, out=buf[2])
    Gm = (buf[:3].reshape(3 * S, n) @ d.V3).reshape(3, S, 3)
    g = np.column_stack([Gm[0, :, 0], Gm[1, :, 0], Gm[2, :, 0], -Gm[0, :, 1], -Gm[1, :, 2]])
    q1 = irls * w1
    q2 = irls * w2
    np.multiply(q1, w1, out=buf[0])
    np.multiply(q2, w2, out=buf[1])
    np.multiply(irls * w3, w3, out=buf[2])
    np.multiply(q1, w2, out=buf[3])
    np.multiply(q1, w3, out=buf[4])
    np.multiply(q2, w3, out=buf[5])
    P = (buf.reshape(6 * S, n) @ d.V).reshape(6, S, 6)   # [kind, row, moment]; moments: 1, x, x2, y, y2, xy
    H = np.empty((S, 5, 5))
    H[:, 0, 0] = P[0, :, 0]
    H[:, 0, 3] = -P[0, :, 1]
    H[:, 3, 3] = P[0, :, 2]
    H[:, 1, 1] = P[1, :, 0]
    H[:, 1, 4] = -P[1, :, 3]
    H[:, 4, 4] = P[1, :, 4]
    H[:, 2, 2] = P[2, :, 0]
    H[:, 0, 1] = P[3, :, 0]
    H[:, 0, 4] = -P[3, :, 3]
    H[:, 3, 1] = -P[3, :, 1]
    H[:, 3, 4] = P[3, :, 5]
    H[:, 0, 2] = P[4, :, 0]
    H[:, 3, 2] = -P[4, :, 1]
    H[:, 1, 2] = P[5, :, 0]
    H[:, 4, 2] = -P[5, :, 3]
    # symmetrise from the entries set above
    H[:, 3, 0] = H[:, 0, 3]
    H[:, 4, 1] = H[:, 1, 4]
    H[:, 1, 0] = H[:, 0, 1]
    H[:, 4, 0] = H[:, 0, 4]
    H[:, 1, 3] = H[:, 3, 1]
    H[:, 4, 3] = H[:, 3, 4]
    H[:, 2, 0] = H[:, 0, 2]
    H[:, 2, 3] = H[:, 3, 2]
    H[:, 2, 1] = H[:, 1, 2]
    H[:, 2, 4] = H[:, 4, 2]
    return g, H


@dataclass
class BatchResult:
    """End points of the batched iteration (user coordinates)."""

    theta: np.ndarray        # (S, 5)
    f: np.ndarray            # (S,)
    converged: np.ndarray    # (S,) bool
    iterations: np.ndarray   # (S,) int
    grad: np.ndarray         # (S, 5) gradient (user coordinates) at theta


def _to_user_grad(g, d: _Data):
    """Gradient in centred coordinates -> user coordinates (chain rule of a' = a - alpha xm)."""
    G = np.array(g, dtype=float, copy=True)
    G[:, 3] -= G[:, 0] * d.xm
    G[:, 4] -= G[:, 1] * d.ym
    return G


def batch_rows(n_runs: int, n_rows: int | None = None) -> int:
    """Rows of a batch evaluated together so that a (rows x runs) temporary stays near
    ``BATCH_ELEMENTS`` elements: every start at once on a small table, a few at a time on a large
    one (memory no longer grows with starts x runs)."""
    rows = max(1, BATCH_ELEMENTS // max(int(n_runs), 1))
    return rows if n_rows is None else max(1, min(rows, int(n_rows)))


def _eval_rows(C, d: _Data, W=None, grad: bool = True):
    """Objective (and gradient, Gauss-Newton matrix) of centred rows C, in chunks of rows."""
    S = C.shape[0]
    f = np.empty(S)
    g = np.empty((S, 5)) if grad else None
    H = np.empty((S, 5, 5)) if grad else None
    step = batch_rows(len(d.logL), S)
    for lo in range(0, S, step):
        sl = slice(lo, lo + step)
        Wc = None if W is None else W[sl]
        r, w1, w2, w3 = _terms(C[sl], d)
        f[sl] = _fval(r, d.delta, Wc)
        if grad:
            g[sl], H[sl] = _grad_hess(r, w1, w2, w3, d, Wc)
    return f, g, H


def lm_batch(theta0: np.ndarray, d: _Data, *, weights: np.ndarray | None = None, max_iter: int = 300,
             ftol: float = 1e-13, lam0: float = 1e-3, active_subset: bool = True) -> BatchResult:
    """Damped Gauss-Newton on every row of ``theta0`` at once (each row its own damping).

    weights: None, (n,) or (S, n) per-run multiplicities (one row per start).
    A row stops when an accepted step lowers its objective by less than ``ftol`` (relative) twice
    running, or when no step of any damping lowers it any more (converged at machine precision).
    The (rows x runs) work is done ``batch_rows`` rows at a time; rows are independent, so the
    result is the same whatever the chunk size (the small (rows, 5) state is updated as a whole).
    """
    C = d.clip(d.centre(np.atleast_2d(np.asarray(theta0, dtype=float))))
    S = C.shape[0]
    W = None
    if weights is not None:
        W = np.asarray(weights, dtype=d.dtype)
        if W.ndim == 1:
            W = np.broadcast_to(W, (S, W.size))
    f, g, H = _eval_rows(C, d, W)
    lam = np.full(S, lam0)
    done = ~np.isfinite(f)
    small = np.zeros(S, dtype=int)
    conv = np.zeros(S, dtype=bool)
    iters = np.zeros(S, dtype=int)
    eye = np.eye(5)
    chunk = batch_rows(len(d.logL))
    for _ in range(max_iter):
        idx = np.flatnonzero(~done) if active_subset else np.arange(S)
        if idx.size == 0:
            break
        Hi, gi, li = H[idx], g[idx], lam[idx]
        dg = np.einsum("sii->si", Hi)
        scale = np.maximum(dg, 1e-12 * np.maximum(dg.max(axis=1, keepdims=True), 1e-300))
        A = Hi + li[:, None, None] * scale[:, :, None] * eye
        try:
            step = np.linalg.solve(A, -gi[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a singular row: fall back to scaled gradient descent for all
            step = -gi / (li[:, None] * scale)
        step = np.where(np.isfinite(step), step, 0.0)
        Cn_all = d.clip(C[idx].astype(float) + step)
        fi_all = f[idx]
        iters[idx] += 1
        ok_all = np.zeros(idx.size, dtype=bool)
        for lo in range(0, idx.size, chunk):
            sl = slice(lo, lo + chunk)
            ids, Cn, fi = idx[sl], Cn_all[sl], fi_all[sl]
            Wi = None if W is None else W[ids]
            rn, a1, a2, a3 = _terms(Cn, d)
            fn = _fval(rn, d.delta, Wi)
            ok = np.isfinite(fn) & (fn < fi)
            ok_all[sl] = ok
            if ok.any():
                acc = ids[ok]
                gn, Hn = _grad_hess(rn[ok], a1[ok], a2[ok], a3[ok], d, None if Wi is None else Wi[ok])
                rel = (fi[ok] - fn[ok]) / np.maximum(fi[ok], 1e-300)
                C[acc] = Cn[ok]
                f[acc] = fn[ok]
                g[acc] = gn
                H[acc] = Hn
                lam[acc] = np.maximum(lam[acc] / 3.0, 1e-12)
                small[acc] = np.where(rel < ftol, small[acc] + 1, 0)
                fin = acc[small[acc] >= 2]
                conv[fin] = True
                done[fin] = True
        if (~ok_all).any():
            rej = idx[~ok_all]
            lam[rej] *= 8.0
            # no damping lowers it: the row sits at a minimum to machine precision
            stuck = rej[lam[rej] > 1e10]
            conv[stuck] = True
            done[stuck] = True
    return BatchResult(theta=d.uncentre(C), f=f.astype(float), converged=conv, iterations=iters,
                       grad=_to_user_grad(g, d))


# ------------------------------------------------------------------------------------------------
# the multi-start search


@dataclass
class Approach3Optimum:
    """The optimum of the multi-start search and how it was found."""

    theta: np.ndarray                 # (a, b, e, alpha, beta)
    objective: float
    grad: np.ndarray                  # exact gradient at theta
    converged: bool
    message: str
    start: np.ndarray                 # the grid start whose basin holds the optimum
    n_starts: int
    local_minima: list[dict[str, Any]] = field(default_factory=list)   # distinct end points, best first
    iterations: int = 0
    seconds: float = 0.0

    @property
    def params(self) -> dict[str, float]:
        a, b, e, al, be = (float(v) for v in self.theta)
        return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": al, "beta": be}


def gradient_tolerance(logN, logD, delta: float = DELTA, weights=None) -> float:
    """What "gradient near zero" means here: 1e-6 of the largest a gradient component can be
    (every residual at the Huber threshold, times the largest |log N| or |log D|)."""
    n = float(np.sum(weights)) if weights is not None else float(len(logN))
    big = max(1.0, float(np.max(np.abs(logN))), float(np.max(np.abs(logD))))
    return 1e-6 * n * delta * big


def polish(theta0, logN, logD, logL, delta: float = DELTA, weights=None, options: Mapping | None = None):
    """scipy L-BFGS-B from ``theta0`` with the exact gradient, inside BOUNDS (tight tolerances)."""
    from scipy.optimize import minimize
    opts = dict(POLISH_OPTIONS)
    if options:
        opts.update(options)
    return minimize(objective, np.clip(np.asarray(theta0, dtype=float), _LO, _HI),
                    args=(logN, logD, logL, delta, weights), jac=True, method="L-BFGS-B", bounds=BOUNDS, options=opts)


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


def approach3_optimum(logN, logD, logL, *, delta: float = DELTA,
                      grid: Mapping[str, Sequence[float]] | np.ndarray | None = None, weights=None,
                      first_pass: int = 6, keep_best: int = 256, keep_per_cell: int = 8, second_pass: int = 30,
                      n_refine: int = 32, n_polish: int = 4,
                      extra_starts: np.ndarray | None = None) -> Approach3Optimum:
    """The best optimum of the Huber objective over all grid starts.

    logN, logD, logL: arrays (n,) of log parameters, log tokens, log loss.
    grid: starts (see ``start_grid``; default the paper's 4,500).
    weights: optional per-run multiplicities.
    The search (successive halving of a batched Gauss-Newton iteration over every start, the
    first two stages in single precision): ``first_pass`` steps for every start; then the ``keep_best`` best rows and the
    ``keep_per_cell`` best of each (alpha, beta) start pair go on for ``second_pass`` steps; the
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
    d32 = d.with_dtype(np.float32)   # exploration in single precision, the answer in double
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
    f_init = _eval_rows(d.clip(d.centre(starts[reached])), d,
                        None if w is None else np.broadcast_to(w, (len(reached), len(w))), grad=False)[0]
    start = starts[reached[int(np.argmin(f_init))]] if reached.size else starts[ibest]

    minima = []
    for j in _distinct(second.theta, second.f, 8, tol=1e-3):
        n_basin = int(np.sum(np.max(np.abs(ends - second.theta[j]), axis=1) <= 5e-2))
        minima.append({"objective": float(second.f[j]), "theta": [float(v) for v in second.theta[j]],
                       "converged": bool(second.converged[j]), "n_starts_near": n_basin})
    pg = projected_gradient(xbest, fgrad)
    gmax = float(np.max(np.abs(pg)))
    ok_grad = gmax <= gradient_tolerance(logN, logD, delta, w)
    converged = bool(ok_grad)
    message = str(rbest.message)
    if not ok_grad:
        message += f" (projected gradient {gmax:.3g} not near zero)"
    return Approach3Optimum(theta=np.asarray(xbest, dtype=float), objective=float(fbest), grad=np.asarray(fgrad),
                            converged=converged, message=message, start=np.asarray(start, dtype=float),
                            n_starts=int(len(starts)), local_minima=minima,
                            iterations=int(first.iterations.sum() + mid.iterations.sum() + second.iterations.sum()),
                            seconds=time.perf_counter() - t0)


def reference_multistart(logN, logD, logL, *, delta: float = DELTA, grid=None, options: Mapping | None = None,
                         starts_idx: Sequence[int] | None = None):
    """The straightforward search: scipy L-BFGS-B (exact gradient, same bounds) from every start in
    a Python loop, scipy's default tolerances unless ``options`` says otherwise. For benchmarks and
    tests; returns (best x, best f, list of f per start)."""
    from scipy.optimize import minimize
    starts = start_grid(grid)
    if starts_idx is not None:
        starts = starts[np.asarray(starts_idx, dtype=int)]
    best_x, best_f, fs = None, math.inf, []
    for s0 in starts:
        res = minimize(objective, s0, args=(logN, logD, logL, delta), jac=True, method="L-BFGS-B",
                       bounds=BOUNDS, options=dict(options or {}))
        fs.append(float(res.fun))
        if res.fun < best_f:
            best_f, best_x = float(res.fun), np.asarray(res.x, dtype=float)
    return best_x, best_f, fs


# ------------------------------------------------------------------------------------------------
# synthetic runs (tests, benchmarks, notebooks)


def simulate_runs(law=None, *, budgets: Sequence[float] | None = None, n_per_budget: int = 30, span: float = 8.0,
                  noise: float = 0.005, seed: int | None = 0, size_range: tuple[float, float] | None = None):
    """A Chinchilla-like isoFLOP design with losses drawn from ``law`` (default Epoch 2024).

    For each budget C (default 8 budgets log-spaced 6e18..3e21, as in Hoffmann et al.'s Figure 3)
    ``n_per_budget`` sizes log-uniform from N_opt(C)/span to N_opt(C)*span (clipped to
    ``size_range``), D = C / 6N, and log L = log L_law(N, D) + Normal(0, noise): log-normal seed
    noise. Returns a runs DataFrame (run_id, params, tokens, flops, loss, budget).
    """
    import pandas as pd
    if law is None:
        from ..laws import get_law
        law = get_law("epoch-2024")
    if budgets is None:
        budgets = np.geomspace(6e18, 3e21, 8)
    rng = np.random.default_rng(seed)
    rows = []
    for C in budgets:
        n_opt = float(law.frontier(C)[0])
        Ns = np.geomspace(n_opt / span, n_opt * span, n_per_budget)
        if size_range is not None:
            Ns = np.clip(Ns, *size_range)
        for N in Ns:
            D = C / (6.0 * N)
            rows.append((f"C{C:.2g}-N{N:.3g}", N, D, C))
    df = pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops"])
    L = np.asarray(law.loss(df["params"].to_numpy(), df["tokens"].to_numpy()), dtype=float)
    df["loss"] = L * np.exp(noise * rng.standard_normal(len(df)))
    df["budget"] = df["flops"]
    df = df.drop_duplicates(subset=["params", "tokens"]).reset_index(drop=True)
    return df[["run_id", "params", "tokens", "flops", "loss", "budget"]]


# ------------------------------------------------------------------------------------------------
# the fit


def _arrays_from(N, D, L):
    """(runs DataFrame, N, D, L) from a runs table / path, or from three arrays."""
    import pandas as pd
    from ..runs import as_runs
    if D is None and L is None:
        if N is None:
            raise ScalingError("approach3: give a runs table (or a path), or three arrays N, D, L")
        df = as_runs(N)
    else:
        if D is None or L is None:
            raise ScalingError("approach3: give all three arrays N (parameters), D (tokens) and L (loss)")
        arrs = [np.atleast_1d(np.asarray(v, dtype=float)) for v in (N, D, L)]
        if not (arrs[0].shape == arrs[1].shape == arrs[2].shape) or arrs[0].ndim != 1:
            raise ScalingError(f"approach3: N, D and L must be 1-D arrays of the same length (got shapes "
                               f"{', '.join(str(a.shape) for a in arrs)})")
        df = pd.DataFrame({"params": arrs[0], "tokens": arrs[1], "loss": arrs[2]})
        df["flops"] = 6.0 * df["params"] * df["tokens"]
        for role, v in zip(("params", "tokens", "loss"), arrs):
            bad = ~np.isfinite(v) | (v <= 0)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ScalingError(f"approach3: {role} at index {i} is {v[i]:g}; it must be positive and finite"
                                   + (f" ({int(bad.sum()) - 1} more such values)" if bad.sum() > 1 else ""))
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
        raise ScalingError(f"{what} fits 5 parameters (E, A, B, alpha, beta); {n} run{'s' if n != 1 else ''} "
                           "cannot determine them (need at least 5, and in practice dozens)")
    if len(np.unique(N)) < 2:
        raise ScalingError(f"all {n} runs have the same size (params = {N[0]:.4g}); {what} needs runs at 2 or "
                           "more model sizes (and several token counts per size)")
    if len(np.unique(D)) < 2:
        raise ScalingError(f"all {n} runs have the same token count (tokens = {D[0]:.4g}); {what} needs runs "
                           "at 2 or more token counts")


def law_params_of(theta) -> np.ndarray:
    """(a, b, e, alpha, beta) -> (E, A, B, alpha, beta)."""
    a, b, e, al, be = (float(v) for v in theta)
    return np.array([math.exp(e), math.exp(a), math.exp(b), al, be])


def flags_for(opt: Approach3Optimum, grid=None) -> list[str]:
    """Human-readable warnings about an optimum: convergence, bounds, grid edge."""
    flags: list[str] = []
    if not opt.converged:
        flags.append(f"not converged: {opt.message}")
    th = opt.theta
    shown = {"a": lambda v: f"A = {math.exp(v):.4g}", "b": lambda v: f"B = {math.exp(v):.4g}",
             "e": lambda v: f"E = {math.exp(v):.4g}", "alpha": lambda v: f"alpha = {v:.4g}",
             "beta": lambda v: f"beta = {v:.4g}"}
    for k, nm in enumerate(NAMES):
        lo, hi = BOUNDS[k]
        if th[k] <= lo + 1e-6 * max(1.0, abs(lo)):
            flags.append(f"optimum on a bound: {nm} at its lower bound {lo:g} ({shown[nm](th[k])})"
                         + ("; that term is a constant, the law is degenerate" if nm in ("alpha", "beta") else ""))
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
            flags.append("best start on the grid's edge and the optimum beyond it (" + "; ".join(edge)
                         + "): the grid of starts may not cover the optimum's region")
    return flags


SEARCH_OPTIONS = {"first_pass", "keep_best", "keep_per_cell", "second_pass", "n_refine", "n_polish", "extra_starts"}


def fit_approach3(N, D=None, L=None, *, delta: float = DELTA, grid=None, bootstrap: int = 0, seed: int = 0,
                  workers: int | None = None, level: float = 0.95, budgets: Sequence[float] = None,
                  boot_starts: int = 3, guard_starts: bool = True, name: str = "approach3-fit", **search) -> "FitResult":
    """Fit L(N, D) = E + A/N^alpha + B/D^beta by Approach 3 -> FitResult (form "chinchilla").

    N, D, L: arrays of parameters, tokens and final losses; or N = a runs DataFrame / a path
        that ``scaling.runs.load_runs`` reads (then D and L are left out).
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
    search: options of ``approach3_optimum`` (first_pass, keep_best, n_refine, n_polish ...).
    """
    from ..laws.base import Provenance
    from ..laws.chinchilla import ChinchillaLaw
    from ..runs import data_info
    from .bootstrap import default_budgets, bootstrap_approach3, chinchilla_derived, health_flags, percentile_intervals
    from .result import BootstrapInfo, DataInfo, FitResult, worst_run

    t0 = time.perf_counter()
    unknown = sorted(set(search) - SEARCH_OPTIONS)
    if unknown:
        raise ScalingError(f"fit: method 'approach3' takes no option {unknown[0]!r} (search options: "
                           f"{', '.join(sorted(SEARCH_OPTIONS))})")
    df, Nv, Dv, Lv = _arrays_from(N, D, L)
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
        others = [np.asarray(m["theta"]) for m in opt.local_minima
                  if np.max(np.abs(np.asarray(m["theta"]) - opt.theta)) > 1e-3][:boot_starts]
        extra = np.array(others) if others else None
        guards = np.atleast_2d(opt.start) if guard_starts else None
        bs = bootstrap_approach3(logN, logD, logL, opt.theta, n_boot=int(bootstrap), seed=seed, delta=delta,
                                 extra_starts=extra, guard_starts=guards, workers=workers)
        boot_seconds = bs.seconds
        boot_info = bs.health(seed, level)   # failed refits left out, on-bound refits kept (and counted)
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
    residuals = {"rmse_log_loss": float(np.sqrt(np.mean(res ** 2))),
                 "mae_log_loss": float(np.mean(np.abs(res))),
                 "max_abs_log_loss": float(np.max(np.abs(res))),
                 "rmse_rel_loss": float(np.sqrt(np.mean(np.expm1(res) ** 2))),
                 "frac_within_delta": float(np.mean(np.abs(res) <= delta)),
                 "grad_norm": float(np.linalg.norm(projected_gradient(opt.theta, opt.grad)))}

    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    pconv = meta.get("params_convention", "total")
    fconv = meta.get("flops_convention", "6nd")
    C = np.asarray(df["flops"], dtype=float) if "flops" in df.columns else 6.0 * Nv * Dv
    prov = Provenance(citation=f"Approach 3 fit by scaling to {meta.get('source') or 'runs'}",
                      notes=f"Huber (delta {delta:g}) on log-loss residuals, summed; {len(Nv)} runs; "
                            f"{opt.n_starts} starts; N counts {pconv} parameters",
                      fitted_flops=(float(C.min()), float(C.max())))
    if degenerate:
        law_dict = {"form": "chinchilla", "name": name, "params": dict(zip(LAW_NAMES, map(float, P))),
                    "flops_convention": fconv, "params_convention": pconv, "citation": prov.citation,
                    "url": "", "notes": prov.notes + "; DEGENERATE (an exponent is 0)",
                    "fitted_flops": list(prov.fitted_flops)}
    else:
        law = ChinchillaLaw(E, A, B, al, be, name=name, provenance=prov, samples=samples)
        law.params_convention = pconv
        law.flops_convention = fconv
        law_dict = law.to_dict()
    info = data_info(df, cols=("params", "tokens", "loss"))
    return FitResult(
        method="approach3", form="chinchilla", law=law_dict,
        params={"E": E, "A": A, "B": B, "alpha": al, "beta": be},
        intervals=intervals, derived=derived, objective=float(opt.objective), converged=bool(opt.converged),
        flags=flags,
        bootstrap=boot_info, data=DataInfo(**info), worst_run=worst_run(df, Nv, Dv, Lv, pred),
        options={"delta": delta, "level": level, "bootstrap": int(bootstrap), "seed": seed,
                 "grid": "paper (4,500 starts)" if grid is None else "custom", "n_starts": opt.n_starts,
                 "budgets": list(budgets), **{k: v for k, v in search.items() if np.isscalar(v)}},
        residuals=residuals, flops_convention=fconv, params_convention=pconv,
        extra={"theta": dict(zip(NAMES, map(float, opt.theta))),
               "gradient": [float(v) for v in opt.grad],
               "start": dict(zip(NAMES, map(float, opt.start))),
               "optimizer_message": opt.message, "local_minima": opt.local_minima,
               "seconds": {"search": round(opt.seconds, 4), "bootstrap": round(boot_seconds, 4),
                           "total": round(time.perf_counter() - t0, 4)}},
    )


__all__ = ["fit_approach3", "approach3_optimum", "Approach3Optimum", "objective", "predict_log_loss", "huber",
           "start_grid", "GRID", "BOUNDS", "NAMES", "DELTA", "polish", "lm_batch", "reference_multistart",
           "projected_gradient", "gradient_tolerance", "simulate_runs", "check_design", "law_params_of"]
