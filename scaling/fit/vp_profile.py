"""The variable-projection (VP) profile of the Chinchilla surface L = E + A N^-alpha + B D^-beta,
and its search over the exponents.

For fixed exponents (alpha, beta) the model is LINEAR in (E, A, B): with u = N^-alpha and
v = D^-beta, L_pred = E + A u + B v. So the 5-parameter problem splits into

- an inner problem, solved exactly for each (alpha, beta) (``profile``): non-negative
  (E, A, B >= 0) fit of the linear model, and
- an outer search over the 2-D (alpha, beta) plane only (``vp_optimum``): a grid, then a batched
  Newton refinement (``newton_refine``: finite-difference gradient and Hessian of the profile on a
  shrinking stencil).

Inner objective: relative residuals r = (L_pred - L) / L; with ``loss="huber"`` the sum of
Huber_delta(r_i), delta = 1e-3, by iteratively reweighted non-negative least squares (weights
min(1, delta/|r|) / L^2; each reweighted problem is a 3-variable NNLS solved exactly by
enumerating the 7 supports, which majorises the Huber sum so the iteration descends); with
``loss="ls"`` plain least squares on r (one NNLS, no iteration). Variable projection: Golub and
Pereyra (1973); :mod:`scaling.fit.vp` says why the residuals are relative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ScalingError
from ._surface import huber

DELTA = 1e-3
ALPHA_RANGE = (0.02, 2.0)
GRID_STEP = 0.04
_SUPPORTS = ((0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2))
# (exponent rows x runs) elements the inner problem holds at once (about 15 float64 arrays of
# that size): the 2,500-point grid is solved in chunks on a large table, so memory stays near
# 0.3 GB instead of growing by 300 KB per run.
BATCH_ELEMENTS = 1 << 21


# ------------------------------------------------------------------------------------------------
# the inner problem, batched over rows of (alpha, beta)


def _nnls3(S, t, c):
    """Batched 3-variable NNLS from normal equations: min theta^T S theta - 2 t^T theta + c, theta >= 0.

    S (P, 3, 3), t (P, 3), c (P,). Returns theta (P, 3), value (P,). Exact: the best feasible
    unconstrained solution over all supports is the constrained optimum (convex QP, KKT).
    """
    P = S.shape[0]
    best_val = c.copy()  # empty support: theta = 0
    best = np.zeros((P, 3))
    for sup in _SUPPORTS:
        k = len(sup)
        Ss = S[:, sup][:, :, sup]
        ts = t[:, sup]
        if k == 1:
            den = Ss[:, 0, 0]
            with np.errstate(divide="ignore", invalid="ignore"):
                th = (ts[:, 0] / den)[:, None]
            good = den > 0
        else:
            det = np.linalg.det(Ss)
            good = det > 1e-300
            Ssafe = np.where(good[:, None, None], Ss, np.eye(k))
            th = np.linalg.solve(Ssafe, ts[:, :, None])[:, :, 0]
        val = c - np.sum(ts * th, axis=1)
        ok = good & np.all(th >= 0, axis=1) & np.isfinite(val) & (val < best_val)
        if ok.any():
            best_val = np.where(ok, val, best_val)
            full = np.zeros((P, 3))
            full[:, sup] = th
            best = np.where(ok[:, None], full, best)
    return best, best_val


def profile(
    alpha,
    beta,
    N,
    D,
    L,
    *,
    loss: str = "huber",
    delta: float = DELTA,
    weights=None,
    iters: int = 200,
    tol: float = 1e-9,
    irls0=None,
    return_irls: bool = False,
):
    """The inner VP problem for rows of exponents: (objective (P,), (E, A, B) (P, 3)[, IRLS weights]).

    alpha, beta: arrays (P,); N, D, L: data (n,); weights: None, (n,) or (P, n) multiplicities.
    Objective: sum of Huber_delta (or r^2/2 for loss="ls") of relative residuals r = (L_pred - L)/L.
    irls0: (P, n) IRLS weights to start from (a nearby solution's), else least squares.
    """
    alpha = np.atleast_1d(np.asarray(alpha, dtype=float))
    beta = np.atleast_1d(np.asarray(beta, dtype=float))
    P = alpha.size
    rows = max(1, BATCH_ELEMENTS // max(int(np.size(L)), 1))
    if P > rows:  # rows are independent: solve them a chunk at a time, so memory stays bounded

        def part(v, sl):
            return None if v is None or np.ndim(v) < 2 else np.asarray(v)[sl]

        parts = [
            profile(
                alpha[sl],
                beta[sl],
                N,
                D,
                L,
                loss=loss,
                delta=delta,
                weights=weights if np.ndim(weights) < 2 else part(weights, sl),
                iters=iters,
                tol=tol,
                irls0=part(irls0, sl),
                return_irls=return_irls,
            )
            for sl in (slice(lo, lo + rows) for lo in range(0, P, rows))
        ]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(parts[0])))
    logN, logD = np.log(N), np.log(D)
    # features scaled so each has mean 1 over the runs (conditioning of the normal equations)
    u = np.exp(-alpha[:, None] * logN)
    v = np.exp(-beta[:, None] * logD)
    su = u.mean(axis=1, keepdims=True)
    sv = v.mean(axis=1, keepdims=True)
    u = u / su
    v = v / sv
    n = L.size
    invL2 = 1.0 / (L * L)
    cw = None if weights is None else np.broadcast_to(np.asarray(weights, dtype=float), (P, n))
    if irls0 is not None and loss == "huber":
        irls = np.array(irls0, dtype=float, copy=True)
    else:
        irls = np.ones((P, n))
    theta = np.zeros((P, 3))
    r = np.zeros((P, n))
    active = np.arange(P)
    for it in range(iters if loss == "huber" else 1):
        # rows iterate until their own coefficients settle
        ua, va = u[active], v[active]
        w = irls[active] * invL2 if cw is None else cw[active] * irls[active] * invL2
        wu, wv = w * ua, w * va
        S = np.empty((active.size, 3, 3))
        S[:, 0, 0] = w.sum(axis=1)
        S[:, 0, 1] = S[:, 1, 0] = wu.sum(axis=1)
        S[:, 0, 2] = S[:, 2, 0] = wv.sum(axis=1)
        S[:, 1, 1] = (wu * ua).sum(axis=1)
        S[:, 1, 2] = S[:, 2, 1] = (wu * va).sum(axis=1)
        S[:, 2, 2] = (wv * va).sum(axis=1)
        t = np.column_stack([w @ L, wu @ L, wv @ L])
        c = w @ (L * L)
        new, _ = _nnls3(S, t, c)
        ra = (new[:, 0:1] + new[:, 1:2] * ua + new[:, 2:3] * va - L) / L
        change = np.max(np.abs(new - theta[active]) / np.maximum(np.abs(new), 1e-12), axis=1)
        theta[active] = new
        r[active] = ra
        if loss != "huber":
            break
        ara = np.abs(ra)
        irls[active] = delta / np.maximum(ara, delta)  # min(1, delta/|r|)
        active = active[change >= tol] if it > 0 else active
        if active.size == 0:
            break
    h = huber(r, delta) if loss == "huber" else 0.5 * r * r
    if cw is not None:
        h = h * cw
    eab = np.column_stack([theta[:, 0], theta[:, 1] / su[:, 0], theta[:, 2] / sv[:, 0]])
    if return_irls:
        return h.sum(axis=1), eab, irls
    return h.sum(axis=1), eab


# ------------------------------------------------------------------------------------------------
# the outer search over (alpha, beta)


def _grid_minima(F: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Up to k local minima (8-neighbourhood) of a 2-D array, lowest first."""
    Fp = np.pad(F, 1, constant_values=np.inf)
    is_min = np.ones_like(F, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            is_min &= F <= Fp[1 + di : 1 + di + F.shape[0], 1 + dj : 1 + dj + F.shape[1]]
    cand = np.argwhere(is_min & np.isfinite(F))
    order = np.argsort(F[cand[:, 0], cand[:, 1]], kind="stable")
    return [(int(cand[i, 0]), int(cand[i, 1])) for i in order[:k]]


def newton_refine(
    x0,
    N,
    D,
    L,
    *,
    loss="huber",
    delta=DELTA,
    weights=None,
    h0: float = GRID_STEP / 2,
    hmin: float = 1e-5,
    max_rounds: int = 60,
    lo: float = 1e-4,
    hi: float = 4.0,
):
    """Batched Newton on the profile from rows x0 (R, 2) of (alpha, beta), each with its own weights.

    Each round evaluates the profile on a 3x3 stencil of half-width h around each row's centre,
    takes the Newton step of the quadratic through it (or the best stencil point when the
    quadratic is not convex or the step fails), and shrinks h. Returns (x (R, 2), f (R,), EAB (R, 3),
    converged (R,)): a row has converged when its stencil is at ``hmin`` and its centre stays put.
    """
    x = np.atleast_2d(np.asarray(x0, dtype=float)).copy()
    R = x.shape[0]
    W = None if weights is None else np.asarray(weights, dtype=float)
    if W is not None and W.ndim == 1:
        W = np.broadcast_to(W, (R, W.size))
    h = np.full(R, float(h0))
    off = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], dtype=float)  # (9, 2)
    f: np.ndarray | None = None
    eab: np.ndarray | None = None
    active = np.ones(R, dtype=bool)
    irls: np.ndarray | None = None
    for _ in range(max_rounds):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        m = idx.size
        pts = x[idx, None, :] + h[idx, None, None] * off[None]  # (m, 9, 2)
        pts = np.clip(pts, lo, hi)
        Wr = None if W is None else np.repeat(W[idx], 9, axis=0)
        i0: np.ndarray | None = None if irls is None else np.repeat(irls[idx], 9, axis=0)
        fv, ev, iv = profile(
            pts[..., 0].ravel(),
            pts[..., 1].ravel(),
            N,
            D,
            L,
            loss=loss,
            delta=delta,
            weights=Wr,
            irls0=i0,
            return_irls=True,
        )
        fv = fv.reshape(m, 9)
        ev = ev.reshape(m, 9, 3)
        iv = iv.reshape(m, 9, -1)
        hh = h[idx]
        f0 = fv[:, 4]
        g = np.column_stack([(fv[:, 7] - fv[:, 1]) / (2 * hh), (fv[:, 5] - fv[:, 3]) / (2 * hh)])
        Haa = (fv[:, 7] - 2 * f0 + fv[:, 1]) / hh**2
        Hbb = (fv[:, 5] - 2 * f0 + fv[:, 3]) / hh**2
        Hab = (fv[:, 8] - fv[:, 6] - fv[:, 2] + fv[:, 0]) / (4 * hh**2)
        det = Haa * Hbb - Hab**2
        convex = (Haa > 0) & (det > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.column_stack([-(Hbb * g[:, 0] - Hab * g[:, 1]) / det, -(Haa * g[:, 1] - Hab * g[:, 0]) / det])
        size = np.max(np.abs(step), axis=1)
        use_newton = convex & np.isfinite(size) & (size <= 2 * hh)
        kbest = np.argmin(fv, axis=1)
        xbest = pts[np.arange(m), kbest]
        fbest = fv[np.arange(m), kbest]
        ebest = ev[np.arange(m), kbest]
        ibest = iv[np.arange(m), kbest]
        newx = np.clip(x[idx] + np.where(np.isfinite(step), step, 0.0), lo, hi)
        accepted = np.zeros(m, dtype=bool)
        if use_newton.any():
            j = np.flatnonzero(use_newton)
            Wn = None if W is None else W[idx[j]]
            fn, en, inn = profile(
                newx[j, 0], newx[j, 1], N, D, L, loss=loss, delta=delta, weights=Wn, irls0=ibest[j], return_irls=True
            )
            better = fn <= fbest[j]
            jb = j[better]
            xbest[jb] = newx[jb]
            fbest[jb] = fn[better]
            ebest[jb] = en[better]
            ibest[jb] = inn[better]
            accepted[jb] = True
        moved = np.max(np.abs(xbest - x[idx]), axis=1)
        x[idx] = xbest
        if f is None or eab is None or irls is None:
            f = np.full(R, np.nan)
            eab = np.full((R, 3), np.nan)
            irls = np.ones((R, len(L)))
        irls[idx] = ibest
        f[idx] = fbest
        eab[idx] = ebest
        # the stencil follows the steps: Newton accepted -> twice its length; the centre was best
        # -> a quarter; moved to a stencil point -> unchanged
        hn = np.where(accepted, np.minimum(hh, 2.0 * moved), np.where(kbest == 4, hh / 4.0, hh))
        h[idx] = np.maximum(hn, hmin)
        active[idx] = ~((hh <= hmin * 1.0001) & (moved <= hmin))
    return x, f, eab, ~active


def vp_optimum(
    N,
    D,
    L,
    *,
    loss: str = "huber",
    delta: float = DELTA,
    weights=None,
    alpha_range: tuple[float, float] = ALPHA_RANGE,
    beta_range: tuple[float, float] = ALPHA_RANGE,
    grid_step: float = GRID_STEP,
    n_starts: int = 3,
) -> dict[str, Any]:
    """Grid over (alpha, beta), then Newton refinement of the best ``n_starts`` grid minima."""
    N, D, L = (np.asarray(v, dtype=float) for v in (N, D, L))
    if loss not in ("huber", "ls"):
        raise ScalingError(f"loss: {loss!r} is not one of 'huber', 'ls'")
    ga = np.arange(alpha_range[0], alpha_range[1] + 1e-9, grid_step)
    gb = np.arange(beta_range[0], beta_range[1] + 1e-9, grid_step)
    A_, B_ = np.meshgrid(ga, gb, indexing="ij")
    # the grid only has to find the basins: a few IRLS steps suffice there
    F, _ = profile(A_.ravel(), B_.ravel(), N, D, L, loss=loss, delta=delta, weights=weights, iters=12)
    F = F.reshape(A_.shape)
    mins = _grid_minima(F, n_starts)
    x0 = np.array([(ga[i], gb[j]) for i, j in mins])
    x, f, eab, conv = newton_refine(
        x0,
        N,
        D,
        L,
        loss=loss,
        delta=delta,
        weights=None if weights is None else np.broadcast_to(weights, (len(x0), len(L))),
        h0=grid_step / 2,
        lo=1e-4,
        hi=max(alpha_range[1], beta_range[1]) * 2,
    )
    k = int(np.nanargmin(f))
    others = [
        {"alpha": float(x[i, 0]), "beta": float(x[i, 1]), "objective": float(f[i])}
        for i in np.argsort(f)
        if i != k and np.max(np.abs(x[i] - x[k])) > 1e-3
    ]
    return {
        "alpha": float(x[k, 0]),
        "beta": float(x[k, 1]),
        "E": float(eab[k, 0]),
        "A": float(eab[k, 1]),
        "B": float(eab[k, 2]),
        "objective": float(f[k]),
        "grid_start": (float(x0[k, 0]), float(x0[k, 1])),
        "converged": bool(conv[k]),
        "other_minima": others,
        "on_grid_edge": bool(
            x[k, 0] >= alpha_range[1]
            or x[k, 1] >= beta_range[1]
            or x[k, 0] <= alpha_range[0] / 2
            or x[k, 1] <= beta_range[0] / 2
        ),
    }


__all__ = ["profile", "newton_refine", "vp_optimum", "DELTA", "ALPHA_RANGE", "GRID_STEP", "BATCH_ELEMENTS"]
