"""One isoFLOP profile of Hoffmann et al. (2022, arXiv 2203.15556), Approach 2: the runs of one
training budget C, and the parabola whose vertex is that budget's compute-optimal size.

Along an isoFLOP profile the loss is a valley in log N; a parabola  L = c0 + c1 x + c2 x^2
(x = log N) fitted near the valley floor puts the budget's optimum at x* = -c1 / (2 c2). A budget
has no optimum, and says why, when

- it has fewer than ``min_points`` distinct sizes near its minimum (default 3),
- the parabola opens downward (c2 <= 0), or
- its minimum lies outside the sampled range of log N (the sweep missed the optimum).

Which points enter a parabola: a parabola is a good model of the valley only near its floor; far
from it published isoFLOP curves rise steeply (losses of 8-10 nats beside a 4.7 minimum), and a
parabola through everything moves the vertex. By default the points whose loss is within
``window`` (10%) of the budget's lowest loss are used (at least the lowest point and its two
neighbours in N). ``window=None`` uses every point, as Hoffmann et al. did.

``assign_budgets`` groups runs into budgets (exact FLOP values, log-uniform bins, or given budgets).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..runs import group_budgets


def isoflop_minimum(
    logN: np.ndarray,
    loss: np.ndarray,
    logD: np.ndarray | None = None,
    *,
    window: float | None = 0.1,
    min_points: int = 3,
) -> dict[str, Any]:
    """Fit the parabola of one isoFLOP profile; returns its optimum or the reason it has none.

    Keys: ok, reason, n_points, n_used, logN_opt, logD_opt, loss_opt, curvature, used (mask).
    """
    x = np.asarray(logN, dtype=float)
    y = np.asarray(loss, dtype=float)
    n = len(x)
    res: dict[str, Any] = {
        "ok": False,
        "reason": "",
        "n_points": int(n),
        "n_used": 0,
        "logN_opt": math.nan,
        "logD_opt": math.nan,
        "loss_opt": math.nan,
        "curvature": math.nan,
        "used": np.zeros(n, dtype=bool),
    }
    if n == 0:
        res["reason"] = "no runs"
        return res
    order = np.argsort(x, kind="stable")
    i = int(np.argmin(y))
    if window is None:
        used = np.ones(n, dtype=bool)
    else:
        used = y <= y[i] * (1.0 + window)
        # at least the lowest run and its neighbours in N, so a coarse sweep still gets a parabola
        rank = np.empty(n, dtype=int)
        rank[order] = np.arange(n)
        used |= np.abs(rank - rank[i]) <= 1
    xs, ys = x[used], y[used]
    res["used"] = used
    res["n_used"] = int(used.sum())
    if len(np.unique(xs)) < min_points:
        res["reason"] = f"only {len(np.unique(xs))} distinct size(s) near the minimum (a parabola needs {min_points})"
        return res
    xc = xs.mean()
    c2, c1, c0 = np.polyfit(xs - xc, ys, 2)
    res["curvature"] = float(c2)
    if not c2 > 0:
        res["reason"] = f"parabola opens downward (curvature {c2:.3g} <= 0): no minimum"
        return res
    xm = xc - c1 / (2 * c2)
    res["logN_opt"] = float(xm)
    res["loss_opt"] = float(c0 - c1 * c1 / (4 * c2))
    lo, hi = float(xs.min()), float(xs.max())
    if not (lo <= xm <= hi):
        side = "below the smallest" if xm < lo else "above the largest"
        res["reason"] = (
            f"minimum at N = {math.exp(xm):.3g} is {side} size sampled ({math.exp(lo):.3g}..{math.exp(hi):.3g})"
        )
        return res
    if logD is not None:
        zs = np.asarray(logD, dtype=float)[used]
        zc = zs.mean()
        d2, d1, _ = np.polyfit(zs - zc, ys, 2)
        if d2 > 0:
            res["logD_opt"] = float(zc - d1 / (2 * d2))
        else:  # cannot happen on an exact isoFLOP (log D = log C/6 - log N); keep the relation
            res["logD_opt"] = math.nan
    res["ok"] = True
    return res


def assign_budgets(
    flops: np.ndarray,
    *,
    budgets: str | Sequence[float] = "auto",
    tol: float = 0.05,
    bins_per_decade: float = 4.0,
    min_points: int = 3,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Budget index of every run, the budgets (FLOPs), and the mode used.

    ``budgets``: "exact" (values within a factor 1 + tol are one budget), "bins" (log-uniform
    bins, ``bins_per_decade``, centred on 10**(k / bins_per_decade)), "auto" (exact when that gives
    most budgets ``min_points`` runs and no budget spans more than a factor 1 + 3 tol, else bins),
    or a list of budgets (each run goes to the nearest in log space; runs further than a
    factor 1 + tol from every budget are dropped, index -1).
    """
    f = np.asarray(flops, dtype=float)
    idx = np.full(len(f), -1, dtype=int)
    if not isinstance(budgets, str):
        b = np.sort(np.asarray(list(budgets), dtype=float))
        if b.size == 0 or np.any(~np.isfinite(b)) or np.any(b <= 0):
            raise ScalingError("budgets: give positive FLOP values")
        dist = np.abs(np.log(f)[:, None] - np.log(b)[None, :])
        j = np.argmin(dist, axis=1)
        ok = dist[np.arange(len(f)), j] <= math.log1p(tol)
        idx[ok] = j[ok]
        return idx, b, "given"
    if budgets not in ("auto", "exact", "bins"):
        raise ScalingError(f"budgets: {budgets!r} is not one of auto, exact, bins (or a list of FLOP values)")
    centres, groups = group_budgets(f, tol)
    sizes = np.array([len(g) for g in groups])
    # continuous budgets chain into wide groups: those are not budgets
    widest = max(float(f[g].max() / f[g].min()) for g in groups)
    if budgets == "exact" or (budgets == "auto" and np.median(sizes) >= min_points and widest <= 1 + 3 * tol):
        for k, g in enumerate(groups):
            idx[g] = k
        return idx, centres, "exact"
    lf = np.log10(f)
    # bins centred on round budgets (1e17, 10**17.25, ...), so a budget with jitter stays in one bin
    edges = (
        np.arange(math.floor(lf.min() * bins_per_decade - 0.5), math.ceil(lf.max() * bins_per_decade + 0.5) + 1) + 0.5
    ) / bins_per_decade
    k = np.clip(np.searchsorted(edges, lf, side="right") - 1, 0, len(edges) - 2)
    used = np.unique(k)
    remap = {int(v): i for i, v in enumerate(used)}
    idx = np.array([remap[int(v)] for v in k])
    centres = np.array([10 ** float(np.mean(lf[idx == i])) for i in range(len(used))])
    return idx, centres, "bins"


def profiles(
    logC_b: np.ndarray, bidx: np.ndarray, logN: np.ndarray, logD: np.ndarray, loss: np.ndarray, window, min_points
) -> list[dict[str, Any]]:
    """The parabola of every budget (``isoflop_minimum``), with its log C and the rows of its runs."""
    out = []
    for k in range(len(logC_b)):
        m = bidx == k
        r = isoflop_minimum(logN[m], loss[m], logD[m], window=window, min_points=min_points)
        r["logC"] = float(logC_b[k])
        r["rows"] = np.flatnonzero(m)
        out.append(r)
    return out


__all__ = ["isoflop_minimum", "assign_budgets", "profiles"]
