"""The Chinchilla loss surface in log space, and everything that fits it: the one home of the
log-sum-exp model, the Huber loss, the summed objective and its exact gradient, the box bounds,
the grid of starts, and the batched damped Gauss-Newton solver every surface fitter, the
bootstrap, variable projection and the sweep design use.

    log L(N, D) = LSE(a - alpha log N, b - beta log D, e),   theta = (a, b, e, alpha, beta)
    with a = log A, b = log B, e = log E  (L = E + A / N^alpha + B / D^beta)

objective(theta) = sum over runs of Huber_delta(predicted - observed log loss), delta = 1e-3
(Hoffmann et al. 2022, Approach 3; Besiroglu et al. 2024). ``lm_batch`` minimises it from many
starts at once (one numpy batch, each row with its own damping); ``polish`` finishes one start
with scipy's L-BFGS-B inside ``BOUNDS``. :mod:`scaling.fit.multistart` is the multi-start search
built on these. The compute-optimal allocation G lives with the law
(:func:`scaling.laws.chinchilla.chinchilla_G`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ScalingError

DELTA = 1e-3
NAMES = ("a", "b", "e", "alpha", "beta")  # the optimised vector, in this order
LAW_NAMES = ("E", "A", "B", "alpha", "beta")  # ChinchillaLaw's parameter order

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
    (-20.0, 100.0),  # a = log A
    (-20.0, 100.0),  # b = log B
    (-20.0, 5.0),  # e = log E   (E from 2e-9 to 148 nats)
    (0.0, 4.0),  # alpha
    (0.0, 4.0),  # beta
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
            raise ScalingError(
                f"grid: explicit starts must be an (S, 5) array of (a, b, e, alpha, beta), got shape {np.shape(grid)}"
            )
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
    r = np.asarray(r)
    if not np.issubdtype(r.dtype, np.floating):
        r = r.astype(float)
    ar = np.abs(r)  # the dtype is kept: the batched search evaluates float32 rows
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
    h = huber(r, delta)
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
        self.V = np.column_stack([one, x, x * x, y, y * y, x * y]).astype(self.dtype)  # (n, 6)
        self.V3 = np.column_stack([one, x, y]).astype(self.dtype)  # (n, 3)

    def with_dtype(self, dtype) -> _Data:
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
    h = huber(r, delta)
    if W is not None:
        h = h * W
    return h.sum(axis=1, dtype=np.float64)


def _grad_hess(r, w1, w2, w3, d: _Data, W=None):
    """Exact gradient and the reweighted Gauss-Newton matrix (centred coordinates), batched."""
    delta = d.delta
    ar = np.abs(r)
    psi = np.clip(r, -delta, delta)
    irls = delta / np.maximum(ar, delta)  # min(1, delta/|r|): the IRLS weight of the Huber loss
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
    P = (buf.reshape(6 * S, n) @ d.V).reshape(6, S, 6)  # [kind, row, moment]; moments: 1, x, x2, y, y2, xy
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

    theta: np.ndarray  # (S, 5)
    f: np.ndarray  # (S,)
    converged: np.ndarray  # (S,) bool
    iterations: np.ndarray  # (S,) int
    grad: np.ndarray  # (S, 5) gradient (user coordinates) at theta


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
        if g is not None and H is not None:
            g[sl], H[sl] = _grad_hess(r, w1, w2, w3, d, Wc)
    return f, g, H


def lm_batch(
    theta0: np.ndarray,
    d: _Data,
    *,
    weights: np.ndarray | None = None,
    max_iter: int = 300,
    ftol: float = 1e-13,
    lam0: float = 1e-3,
    active_subset: bool = True,
) -> BatchResult:
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
    return BatchResult(
        theta=d.uncentre(C), f=f.astype(float), converged=conv, iterations=iters, grad=_to_user_grad(g, d)
    )


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
    return minimize(
        objective,
        np.clip(np.asarray(theta0, dtype=float), _LO, _HI),
        args=(logN, logD, logL, delta, weights),
        jac=True,
        method="L-BFGS-B",
        bounds=BOUNDS,
        options=opts,
    )


def jacobian(theta, logN, logD) -> np.ndarray:
    """d log L / d theta of the surface at runs (logN, logD): shape (..., n, 5) for theta (..., 5)."""
    theta = np.asarray(theta, dtype=float)
    a, b, e, al, be = (theta[..., k, None] for k in range(5))
    z = np.stack(np.broadcast_arrays(a - al * logN, b - be * logD, e + 0 * logN), axis=0)
    z = z - np.max(z, axis=0)
    w = np.exp(z)
    w = w / np.sum(w, axis=0)
    n = np.broadcast_to(logN, w[0].shape)
    d = np.broadcast_to(logD, w[0].shape)
    return np.stack([w[0], w[1], w[2], -w[0] * n, -w[1] * d], axis=-1)


def lse(*terms) -> np.ndarray:
    """log(sum(exp(t))) over the given arrays (broadcast), computed stably."""
    m = np.maximum.reduce([np.asarray(x, dtype=float) for x in terms])
    return m + np.log(sum(np.exp(x - m) for x in terms))


def law_params_of(theta) -> np.ndarray:
    """(a, b, e, alpha, beta) -> (E, A, B, alpha, beta)."""
    a, b, e, al, be = (float(v) for v in theta)
    return np.array([math.exp(e), math.exp(a), math.exp(b), al, be])


__all__ = [
    "DELTA",
    "NAMES",
    "LAW_NAMES",
    "GRID",
    "BOUNDS",
    "POLISH_OPTIONS",
    "BATCH_ELEMENTS",
    "start_grid",
    "predict_log_loss",
    "huber",
    "objective",
    "projected_gradient",
    "BatchResult",
    "batch_rows",
    "lm_batch",
    "gradient_tolerance",
    "polish",
    "jacobian",
    "lse",
    "law_params_of",
]
