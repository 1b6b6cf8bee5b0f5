"""The one home of the project's scalar solvers: golden section, bisection and Brent.

Every planner, law and comparison that minimises or inverts a function of one variable calls one
of these (numpy only):

- :func:`golden_min`: golden-section search for the minimum of a unimodal function on [a, b],
  vectorised over independent problems (one new evaluation per iteration, ties and NaN go left);
- :func:`scan_min`: a coarse scan of the whole range first, then :func:`golden_min` inside the
  best bracket, for objectives with kinks or flat stretches that defeat a bare golden search;
- :func:`grid_min`: the same for one problem whose function is undefined (inf) in places, with
  the minimum's value;
- :func:`bisect`: elementwise bisection for a sign change, vectorised; :func:`bisect_log` does
  it in log space for positive brackets (sizes, token counts, budgets over many decades);
- :func:`brentq`: Brent's method (inverse quadratic interpolation with a bisection fallback) for
  one scalar root, in a few evaluations when each one is dear.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def golden_min(f: Callable[[np.ndarray], np.ndarray], a, b, *, tol: float = 1e-12, max_iter: int = 300) -> np.ndarray:
    """Vectorised golden-section search for the minimum of a unimodal f on [a, b] (elementwise),
    one new evaluation of f per iteration, until every bracket is narrower than ``tol``. NaN and
    ties send the search left. Returns the bracket midpoints."""
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    with np.errstate(all="ignore"):
        fc, fd = np.asarray(f(c), dtype=float), np.asarray(f(d), dtype=float)
    for _ in range(max_iter):
        if np.all(b - a < tol):
            break
        left = ~(fc > fd)  # the minimum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - GOLDEN * (b - a), d)
        d_new = np.where(left, c, a + GOLDEN * (b - a))
        with np.errstate(all="ignore"):
            fx = np.asarray(f(np.where(left, c_new, d_new)), dtype=float)
        fc, fd = np.where(left, fx, fd), np.where(left, fc, fx)
        c, d = c_new, d_new
    return 0.5 * (a + b)


def scan_min(
    f: Callable[[np.ndarray], np.ndarray], lo, hi, *, n_scan: int = 65, tol: float = 1e-12, max_iter: int = 300
) -> np.ndarray:
    """Minimise f on [lo, hi] elementwise: a coarse scan, then golden section inside the best bracket.

    ``lo``/``hi`` are arrays (one problem per element); ``f`` takes an array of the broadcast
    shape (with a leading scan axis during the scan) and returns values of the same shape. NaN
    counts as +inf. The golden section narrows the bracket [x_(i-1), x_(i+1)] around the best scan
    point until its width is below ``tol``. Returns the minimisers.
    """
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    lo, hi = lo.copy(), hi.copy()
    t = np.linspace(0.0, 1.0, n_scan).reshape((-1,) + (1,) * lo.ndim)
    xs = lo + t * (hi - lo)
    with np.errstate(all="ignore"):
        fs = np.asarray(f(xs), dtype=float)
    fs = np.where(np.isnan(fs), np.inf, fs)
    i = np.argmin(fs, axis=0)
    step = (hi - lo) / (n_scan - 1)
    xi = np.take_along_axis(xs, i[None], axis=0)[0]
    a = np.maximum(lo, xi - step)
    b = np.minimum(hi, xi + step)
    return golden_min(f, a, b, tol=tol, max_iter=max_iter)


def grid_min_columns(
    g: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, k: int, *, n: int = 481, tol: float = 1e-13
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`grid_min` for ``k`` problems at once: ``g`` maps x of shape (..., k) (column j: problem
    j) to values of that shape. The same grid and golden-section refinement per column as
    :func:`grid_min`, so each column's (x, g(x)) equals what it would give alone (NaN, inf where a
    column's g is nowhere finite)."""

    def finite(x):
        with np.errstate(all="ignore"):
            v = np.asarray(g(x), dtype=float)
        return np.where(np.isfinite(v), v, np.inf)

    x = np.linspace(lo, hi, n)
    v = np.broadcast_to(finite(np.broadcast_to(x[:, None], (n, k))), (n, k))
    j = np.argmin(v, axis=0)
    cols = np.arange(k)
    best_x, best_v = x[j], v[j, cols]
    ok = np.isfinite(best_v)
    xm = golden_min(finite, x[np.maximum(j - 1, 0)], x[np.minimum(j + 1, n - 1)], tol=tol)
    vm = finite(xm)
    keep_grid = ~np.isfinite(vm) | (vm > best_v)
    xs = np.where(keep_grid, best_x, xm)
    vs = np.where(keep_grid, best_v, vm)
    return np.where(ok, xs, np.nan), np.where(ok, vs, np.inf)


def grid_min(
    g: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, *, n: int = 481, tol: float = 1e-13
) -> tuple[float, float]:
    """(x, g(x)) at the minimum of a scalar problem g on [lo, hi] (g vectorised, inf or NaN where
    undefined): a grid of ``n`` points, refined by :func:`golden_min` in the best point's bracket.
    (nan, inf) when g is nowhere finite; the best grid point when the refinement does not improve
    on it (a kink the golden section straddled)."""

    xs, vs = grid_min_columns(g, lo, hi, 1, n=n, tol=tol)  # one column: g sees x of shape (..., 1)
    return float(xs[0]), float(vs[0])


def bisect(g: Callable[[np.ndarray], np.ndarray], lo, hi, *, tol: float = 1e-13, max_iter: int = 200) -> np.ndarray:
    """Elementwise bisection for a sign change of g on [lo, hi] (g(lo) and g(hi) of opposite
    signs), until every bracket is narrower than ``tol``. Returns the bracket midpoints."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    with np.errstate(all="ignore"):
        glo = np.asarray(g(lo), dtype=float)
    for _ in range(max_iter):
        if np.all(np.abs(hi - lo) < tol):
            break
        mid = 0.5 * (lo + hi)
        with np.errstate(all="ignore"):
            gm = np.asarray(g(mid), dtype=float)
        same = np.sign(gm) == np.sign(glo)
        lo, glo = np.where(same, mid, lo), np.where(same, gm, glo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def bisect_log(
    f: Callable[[np.ndarray], np.ndarray], lo, hi, *, tol: float = 1e-13, max_iter: int = 200, iters: int | None = None
) -> np.ndarray:
    """:func:`bisect` in log space for a monotone f on positive brackets (lo, hi > 0): the root
    x with f(x) = 0, to a relative precision of ``tol`` (``iters``: the old name of ``max_iter``)."""
    if iters is not None:
        max_iter = iters
    x = bisect(
        lambda t: f(np.exp(t)),
        np.log(np.asarray(lo, dtype=float)),
        np.log(np.asarray(hi, dtype=float)),
        tol=tol,
        max_iter=max_iter,
    )
    return np.exp(x)


def brentq(
    f: Callable[[float], float], a: float, b: float, *, xtol: float = 1e-12, rtol: float = 4e-16, max_iter: int = 100
) -> float:
    """Brent's method for a root of a scalar f with f(a) and f(b) of opposite signs (Brent 1973,
    as in scipy.optimize.brentq): inverse quadratic interpolation or secant steps, falling back to
    bisection whenever they would not shrink the bracket fast enough."""
    fa, fb = float(f(a)), float(f(b))
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if fa * fb > 0:
        raise ValueError(f"brentq: f({a:g}) and f({b:g}) have the same sign")
    c, fc = a, fa
    d = e = b - a
    for _ in range(max_iter):
        if fb * fc > 0:
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 2.0 * rtol * abs(b) + 0.5 * xtol
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:  # secant
                p, q = 2.0 * m * s, 1.0 - s
            else:  # inverse quadratic interpolation
                q, r = fa / fc, fb / fc
                p = s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0:
                q = -q
            p = abs(p)
            if 2.0 * p < min(3.0 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = m
        else:
            d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else math.copysign(tol, m)
        fb = float(f(b))
    return b


__all__ = ["grid_min_columns", "GOLDEN", "bisect", "bisect_log", "brentq", "golden_min", "grid_min", "scan_min"]
