"""Bootstrap over runs: percentile intervals for fitted parameters and everything derived from them.

A resample draws the runs with replacement (as many as there are). Drawing rows with replacement
is the same as giving each run an integer weight (how often it was drawn), so a resample is a
weight vector over the SAME data, and a refit minimises the weighted Huber sum. That is what makes
the refits cheap: for Approach 3 all resamples are optimised together as one batch of the damped
Gauss-Newton iteration of :mod:`scaling.fit._surface`, each warm-started from the full-data
optimum and from a few other good end points of the full-data search (other basins), keeping the
best per resample. 1,000 refits of a 240-run fit take seconds.

Reproducibility: one seeding scheme for every method. Resample i draws from its own generator,
``default_rng(SeedSequence(seed).spawn(n)[i])`` (:func:`resample_generators`, the one place it is
defined), so resample i is the same whatever the number of resamples asked for, the order they are
refitted in and the number of workers: 50 resamples are the first 50 of 200, and the chunked refits
below are bit-for-bit the same on 1 core or 16.

Percentile intervals (level 0.95: the 2.5% and 97.5% quantiles of the refits) are reported for
every parameter and for the derived quantities of a Chinchilla-form law: the exponents a and b,
G, and at each reporting budget C: N_opt(C), D_opt(C), tokens per parameter and the loss on the
compute-optimal frontier. The samples (E, A, B, alpha, beta) go into the law (``law["samples"]``)
so ``scaling plan --law fit.json`` prints intervals for any budget.

Health of the refits (every method): a refit that cannot be made (too few distinct runs drawn),
raises, does not converge or ends non-finite has FAILED and is left out of the intervals; a refit
that ended with any parameter on (within ``BOUND_RTOL`` of) a bound of its optimiser is kept (the
bound is where that resample's optimum lies; dropping those refits would move the interval away
from the bound) and counted. :func:`health` turns both into the fit's ``BootstrapInfo`` and
:func:`health_flags` flags either above ``FLAG_SHARE`` of the resamples. Every method that
resamples runs one at a time (Kaplan, data-constrained, sparsity, Approaches 1 and 2) does it
through :func:`resample_loop`; Approach 3 and VP refit chunks of resamples at once (below), from the
same generators.

Cluster bootstrap (``bootstrap_by``, :mod:`scaling.fit.clusters`): runs whose errors are shared
(the branches of one training trunk) are resampled as groups, K groups drawn with replacement, each
with all its rows; Davison & Hinkley (1997, *Bootstrap Methods and their Application*, section 3.8),
Cameron, Gelbach & Miller (2008, *Rev. Econ. Stat.* 90(3), 414-427). Resample i draws its groups from
the same generator i, a refit is the same weighted refit, failures and bounds are counted as above;
the fit records the grouping (``BootstrapInfo.by``, ``n_groups``) and is flagged below 8 groups.

Reporting budgets: :func:`budgets_around` (five decades around the largest run) is the grid Approach 3,
VP and the fit summary use; Approaches 1, 2 and Kaplan report at ``at`` (default: the largest budget
and 100x it), recorded in their committed fits.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.chinchilla import chinchilla_G
from ..planner.result import Flag
from ._surface import _HI, _LO, BOUNDS, _Data, gradient_tolerance, lm_batch, objective
from .bootinfo import BootstrapInfo, bound_phrase
from .clusters import SHORT, Groups, few_groups_flags, short_draw

BUDGETS = (1e20, 1e21, 1e22, 1e23, 1e24)


def default_budgets(N, D) -> tuple[float, ...]:
    """The reporting budgets for runs of sizes N and tokens D: five decades from one below the
    largest run's 6ND to three above it (Chinchilla-scale data, largest run ~3e21: ``BUDGETS``;
    CPU sweeps up to 1e14: 1e13 .. 1e17), so a summary never tabulates a million-fold extrapolation."""
    return budgets_around(float(np.max(6.0 * np.asarray(N, dtype=float) * np.asarray(D, dtype=float))))


def budgets_around(top_flops: float) -> tuple[float, ...]:
    """Five decades of reporting budgets, from one below ``top_flops`` (the largest run) to three above."""
    k = int(np.floor(np.log10(top_flops)))
    return tuple(float(f"1e{e}") for e in range(k - 1, k + 4))


CHUNK = 125  # resamples per work unit (fixed: results do not depend on the number of workers)
BOUND_RTOL = 1e-4  # a refit parameter within BOUND_RTOL * max(1, |bound|) of a bound is on it
FLAG_SHARE = 0.05  # flag the fit when more than this share of refits failed, or ended on a bound


# ------------------------------------------------------------------------------------------------
# resampling


def resample_generators(n_boot: int, seed: int | None = 0, start: int = 0) -> list[np.random.Generator]:
    """The generators of resamples ``start .. start + n_boot - 1``: resample i draws from
    ``default_rng(SeedSequence(seed).spawn(start + n_boot)[i])``. Child i of a SeedSequence does
    not depend on how many children are spawned, so resample i does not depend on ``n_boot``,
    ``start`` or the order of the refits (seed None: fresh entropy for each call)."""
    children = np.random.SeedSequence(seed).spawn(start + int(n_boot))[start:]
    return [np.random.default_rng(c) for c in children]


def resample_indices(n_rows: int, n_boot: int, seed: int | None = 0, start: int = 0) -> np.ndarray:
    """Row indices of resamples ``start .. start + n_boot - 1``: (n_boot, n_rows), seeded per resample."""
    gens = resample_generators(n_boot, seed, start)
    return np.stack([g.integers(0, n_rows, size=n_rows) for g in gens]) if gens else np.zeros((0, n_rows), dtype=int)


def resample_weights(
    n_rows: int, n_boot: int, seed: int | None = 0, start: int = 0, groups: Groups | None = None
) -> np.ndarray:
    """Multiplicity of each run in each resample: (n_boot, n_rows) float counts summing to n_rows;
    with ``groups`` of the rows, the multiplicities of a cluster resample (:meth:`Groups.weights`)."""
    if groups is not None:
        gens = resample_generators(n_boot, seed, start)
        return np.stack([groups.weights(g) for g in gens]) if gens else np.zeros((0, n_rows))
    idx = resample_indices(n_rows, n_boot, seed, start)
    W = np.zeros((n_boot, n_rows))
    for i, row in enumerate(idx):
        W[i] = np.bincount(row, minlength=n_rows)
    return W


def _chunks(n_boot: int, chunk: int) -> list[tuple[int, int]]:
    return [(s, min(chunk, n_boot - s)) for s in range(0, n_boot, chunk)]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def map_chunks(
    fn: Callable[..., Any],
    n_boot: int,
    *,
    payload: Mapping[str, Any],
    workers: int | None = None,
    chunk: int = CHUNK,
    min_parallel: int = 200,
) -> list[Any]:
    """``fn(start, count, **payload)`` over fixed chunks of resamples, in a process pool when it pays.

    workers: None = every core this process may use; 1 = in this process.
    """
    parts = _chunks(n_boot, chunk)
    if workers is None:
        workers = default_workers()
    workers = max(1, min(int(workers), len(parts)))
    if workers == 1 or n_boot < min_parallel:
        return [fn(s, c, **payload) for s, c in parts]
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = [pool.submit(fn, s, c, **payload) for s, c in parts]
            return [f.result() for f in futs]
    except (OSError, RuntimeError, PermissionError):  # no processes here (sandbox): do it in-process
        return [fn(s, c, **payload) for s, c in parts]


# ------------------------------------------------------------------------------------------------
# derived quantities and intervals


def chinchilla_derived(P: np.ndarray, budgets: Sequence[float] = BUDGETS) -> dict[str, np.ndarray]:
    """Derived quantities of Chinchilla-form parameter rows P (k, 5) = (E, A, B, alpha, beta).

    a = beta/(alpha+beta), b = alpha/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta)),
    and per budget C (C = 6ND): N_opt = G (C/6)^a, D_opt = (C/6)^b / G, tokens_per_param,
    loss_opt = L(N_opt, D_opt). Keys like ``N_opt@1e+21``. Values: arrays (k,).
    """
    P = np.atleast_2d(np.asarray(P, dtype=float))
    E, A, B, al, be = P.T
    with np.errstate(all="ignore"):
        s = al + be
        a = be / s
        b = al / s
        logG = np.log(chinchilla_G(al, A, be, B))
        out = {"a": a, "b": b, "G": np.exp(logG)}
        for C in budgets:
            lc = math.log(float(C) / 6.0)
            logN = logG + a * lc
            logD = b * lc - logG
            tag = f"{float(C):.3g}"
            out[f"N_opt@{tag}"] = np.exp(logN)
            out[f"D_opt@{tag}"] = np.exp(logD)
            out[f"tokens_per_param@{tag}"] = np.exp(logD - logN)
            out[f"loss_opt@{tag}"] = E + A * np.exp(-al * logN) + B * np.exp(-be * logD)
    return out


def percentile_intervals(values: Mapping[str, np.ndarray], level: float = 0.95) -> dict[str, tuple[float, float]]:
    """(lo, hi) percentile interval of each array of bootstrap values (NaNs ignored)."""
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    q = (1.0 - level) / 2.0
    out = {}
    for k, v in values.items():
        v = np.asarray(v, dtype=float)
        v = v[np.isfinite(v)]
        if v.size >= 2:
            lo, hi = np.quantile(v, [q, 1.0 - q])
            out[k] = (float(lo), float(hi))
    return out


# ------------------------------------------------------------------------------------------------
# Approach 3


@dataclass
class BootstrapSamples:
    theta: np.ndarray  # (n_boot, 5) rows of (a, b, e, alpha, beta); NaN where a refit failed
    objective: np.ndarray  # (n_boot,)
    converged: np.ndarray  # (n_boot,) bool
    n_failed: int
    seconds: float = 0.0
    # (n_boot,) bool: cluster resamples of fewer than 2 sizes or token counts (failed); None: rows
    short: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        ok = self.converged & np.all(np.isfinite(self.theta), axis=1)
        return ok if self.short is None else ok & ~self.short

    @property
    def used(self) -> np.ndarray:
        """The refits the intervals rest on: converged, finite, and both exponents above 0 (an
        exponent at 0 makes that term a constant: the law is degenerate, N_opt undefined)."""
        return self.ok & (self.theta[:, 3] > 0) & (self.theta[:, 4] > 0)

    def law_params(self) -> np.ndarray:
        """(n_used, 5) rows of (E, A, B, alpha, beta) of the refits the intervals rest on."""
        T = self.theta[self.used]
        return np.column_stack([np.exp(T[:, 2]), np.exp(T[:, 0]), np.exp(T[:, 1]), T[:, 3], T[:, 4]])

    def health(
        self, seed: int | None, level: float, rtol: float = BOUND_RTOL, groups: Groups | None = None
    ) -> BootstrapInfo:
        """Failed refits by reason, and the used refits with a parameter on a bound of ``BOUNDS``."""
        finite = np.all(np.isfinite(self.theta), axis=1)
        short = np.zeros(len(self.theta), dtype=bool) if self.short is None else self.short
        failed = {
            "did not converge": int(np.sum(finite & ~self.converged & ~short)),
            "non-finite": int(np.sum(~finite & ~short)),
            "an exponent at 0 (degenerate law)": int(np.sum(self.ok & ~self.used)),
            SHORT: int(np.sum(short)),
        }
        mask, counts = on_bound(
            self.theta[self.used],
            [b[0] for b in BOUNDS],
            [b[1] for b in BOUNDS],
            ("A", "B", "E", "alpha", "beta"),
            rtol,
        )
        counts = {
            k: counts[k]
            for nm in ("E", "A", "B", "alpha", "beta")
            for k in (f"{nm} (lower)", f"{nm} (upper)")
            if k in counts
        }
        return health(
            len(self.theta), seed, level, failed=failed, bound_mask=mask, bound_counts=counts, rtol=rtol, groups=groups
        )


def _a3_chunk(start: int, count: int, *, logN, logD, logL, delta, starts, guards, seed, max_iter, guard_iter, groups):
    d = _Data(logN, logD, logL, delta)
    W = resample_weights(len(logN), count, seed, start, groups)
    thetas, fs, convs = [], [], []
    for S0, limit in ((starts, max_iter), (guards, guard_iter)):
        if S0 is None or len(S0) == 0:
            continue
        K = len(S0)
        rows = np.repeat(np.arange(count), K)
        res = lm_batch(np.tile(S0, (count, 1)), d, weights=W[rows], max_iter=limit)
        thetas.append(res.theta.reshape(count, K, 5))
        fs.append(res.f.reshape(count, K))
        convs.append(res.converged.reshape(count, K))
    theta = np.concatenate(thetas, axis=1)
    f = np.concatenate(fs, axis=1)
    conv = np.concatenate(convs, axis=1)
    best = np.argmin(np.where(np.isfinite(f), f, np.inf), axis=1)
    r = np.arange(count)
    th, fb, cb = theta[r, best], f[r, best], conv[r, best]
    # a guard start that won but stopped at its iteration cap: finish it
    todo = np.flatnonzero(~cb)
    gb = np.zeros_like(th)
    if todo.size:
        res = lm_batch(th[todo], d, weights=W[todo], max_iter=max_iter)
        th[todo], fb[todo], cb[todo] = res.theta, res.f, res.converged
    # a refit counts only where the gradient is near zero (bounds respected), as for the full fit
    for i in range(count):
        gb[i] = objective(th[i], logN, logD, logL, delta, W[i])[1]
    gb[(th <= _LO + 1e-12) & (gb > 0)] = 0.0
    gb[(th >= _HI - 1e-12) & (gb < 0)] = 0.0
    tol = gradient_tolerance(logN, logD, delta)
    cb &= np.max(np.abs(gb), axis=1) <= tol
    short = None if groups is None else np.array([short_draw(w, logN, logD, 5) for w in W], dtype=bool)
    return th, fb, cb, short


def bootstrap_approach3(
    logN,
    logD,
    logL,
    theta_hat,
    *,
    n_boot: int = 1000,
    seed: int | None = 0,
    delta: float = 1e-3,
    extra_starts: np.ndarray | None = None,
    guard_starts: np.ndarray | None = None,
    workers: int | None = None,
    chunk: int = CHUNK,
    max_iter: int = 500,
    guard_iter: int = 40,
    groups: Groups | None = None,
) -> BootstrapSamples:
    """Refit Approach 3 on ``n_boot`` resamples of the runs (all at once, warm-started).

    theta_hat: the full-data optimum (a, b, e, alpha, beta), the first start of every refit.
    extra_starts: (k, 5) more starts (other local optima of the full-data search) so a resample
        whose optimum moved to another basin still finds it; the best start per resample wins.
    guard_starts: (k, 5) far starts (good points of the grid) given ``guard_iter`` steps each, a
        guard against a resample whose optimum lies in a basin the full data did not show; one
        that wins is iterated to convergence.
    groups: resample these groups of runs, not runs (:mod:`scaling.fit.clusters`).
    """
    t0 = time.perf_counter()
    if n_boot < 0:
        raise ScalingError("bootstrap: the number of resamples must be >= 0")
    starts = np.atleast_2d(np.asarray(theta_hat, dtype=float))
    if extra_starts is not None and len(extra_starts):
        starts = np.vstack([starts, np.atleast_2d(np.asarray(extra_starts, dtype=float))])
    payload = {
        "logN": np.asarray(logN, float),
        "logD": np.asarray(logD, float),
        "logL": np.asarray(logL, float),
        "delta": float(delta),
        "starts": starts,
        "seed": seed,
        "max_iter": int(max_iter),
        "guards": None if guard_starts is None else np.atleast_2d(np.asarray(guard_starts, dtype=float)),
        "guard_iter": int(guard_iter),
        "groups": groups,
    }
    parts = map_chunks(_a3_chunk, int(n_boot), payload=payload, workers=workers, chunk=chunk)
    if parts:
        theta = np.vstack([p[0] for p in parts])
        f = np.concatenate([p[1] for p in parts])
        conv = np.concatenate([p[2] for p in parts])
    else:
        theta, f, conv = np.zeros((0, 5)), np.zeros(0), np.zeros(0, dtype=bool)
    short = None if groups is None else np.concatenate([p[3] for p in parts] or [np.zeros(0, dtype=bool)])
    ok = conv & np.all(np.isfinite(theta), axis=1) & (True if short is None else ~short)
    return BootstrapSamples(
        theta=theta,
        objective=f,
        converged=conv,
        n_failed=int(np.sum(~ok)),
        seconds=time.perf_counter() - t0,
        short=short,
    )


# ------------------------------------------------------------------------------------------------
# the health of the refits, and the one loop of the methods that refit one resample at a time


class RefitFailed(Exception):
    """Raised by a refit function when its resample cannot be fitted; the message is the reason."""


@dataclass
class Refits:
    rows: np.ndarray  # (n_ok, k) parameter rows of the refits that did not fail
    n: int  # resamples drawn
    failed: dict[str, int]  # reason -> count
    extras: list[Any]  # whatever each successful refit returned beside its row

    @property
    def n_failed(self) -> int:
        return int(sum(self.failed.values()))


_REFIT_ERRORS = (ArithmeticError, ValueError, np.linalg.LinAlgError, RuntimeError, ScalingError)


def resample_loop(
    n_boot: int,
    seed: int | None,
    draw: Callable[[np.random.Generator], Any],
    refit: Callable[[Any], Any],
    *,
    width: int | None = None,
) -> Refits:
    """The resampling loop of the methods that refit one resample at a time.

    Resample i is drawn by ``draw(rng_i)`` from its own generator (:func:`resample_generators`:
    the same resample whatever ``n_boot``), as row indices or whatever the method resamples;
    ``refit(sample)`` returns the parameter row, or a pair (row, extra), or raises
    :class:`RefitFailed` (the reason is counted). A refit that raises a numerical error, or
    returns a non-finite row, is counted as failed too. Kept rows stay in resample order.
    ``width``: the row length (for an empty result).
    """
    rows: list[np.ndarray] = []
    extras: list[Any] = []
    failed: dict[str, int] = {}

    def fail(why: str) -> None:
        failed[why] = failed.get(why, 0) + 1

    for rng in resample_generators(int(n_boot), seed):
        sample = draw(rng)
        try:
            out = refit(sample)
        except RefitFailed as exc:
            fail(str(exc) or "no fit")
            continue
        except _REFIT_ERRORS as exc:
            fail(f"raised {type(exc).__name__}")
            continue
        row, extra = out if isinstance(out, tuple) else (out, None)
        row = np.asarray(row, dtype=float).ravel()
        if not np.all(np.isfinite(row)):
            fail("non-finite")
            continue
        rows.append(row)
        extras.append(extra)
    R = np.array(rows) if rows else np.zeros((0, width or 0))
    return Refits(rows=R, n=int(n_boot), failed=failed, extras=extras)


def on_bound(rows, lower, upper, names: Sequence[str], rtol: float = BOUND_RTOL) -> tuple[np.ndarray, dict[str, int]]:
    """Which refits have any parameter on a bound, and how many per parameter and side.

    rows (k, p) in the optimiser's parameters; lower, upper (p,) bounds (None or +-inf: none);
    names (p,) what the summary calls each parameter. A parameter is on a bound when within
    ``rtol * max(1, |bound|)`` of it. Returns (mask (k,), {"E (lower)": count, ...}) with only
    the sides that were hit, in parameter order.
    """
    R = np.atleast_2d(np.asarray(rows, dtype=float))
    lo = np.array([-np.inf if v is None else float(v) for v in lower])
    hi = np.array([np.inf if v is None else float(v) for v in upper])
    if R.size == 0:
        return np.zeros(len(R), dtype=bool), {}
    tol_lo = rtol * np.maximum(1.0, np.abs(np.where(np.isfinite(lo), lo, 0.0)))
    tol_hi = rtol * np.maximum(1.0, np.abs(np.where(np.isfinite(hi), hi, 0.0)))
    at_lo = np.isfinite(lo) & (R <= lo + tol_lo)
    at_hi = np.isfinite(hi) & (R >= hi - tol_hi)
    counts: dict[str, int] = {}
    for j, nm in enumerate(names):
        for side, m in (("lower", at_lo[:, j]), ("upper", at_hi[:, j])):
            k = int(m.sum())
            if k:
                counts[f"{nm} ({side})"] = k
    return np.any(at_lo | at_hi, axis=1), counts


def health(
    n: int,
    seed: int | None,
    level: float,
    *,
    failed: Mapping[str, int],
    bound_mask=None,
    bound_counts: Mapping[str, int] | None = None,
    rtol: float = BOUND_RTOL,
    groups: Groups | None = None,
) -> BootstrapInfo:
    """The fit's BootstrapInfo from the failure reasons and the on-bound mask of the kept refits
    (``bound_mask`` None: the method has no bounded parameters, 0 on a bound); ``groups``: the
    groups of a cluster bootstrap, recorded."""
    failed = {k: int(v) for k, v in failed.items() if v}
    return BootstrapInfo(
        n=int(n),
        seed=seed if n else None,
        level=level,
        n_failed=int(sum(failed.values())),
        failed=failed,
        n_on_bound=0 if bound_mask is None else int(np.sum(bound_mask)),
        on_bound=dict(bound_counts or {}),
        bound_rtol=None if bound_mask is None else rtol,
        by=None if groups is None else list(groups.by),
        n_groups=None if groups is None else groups.n,
    )


def health_flags(info: BootstrapInfo, share: float = FLAG_SHARE) -> list[Flag]:
    """Flags for a bootstrap whose failed or on-bound refits exceed ``share`` of the resamples, and
    for a cluster bootstrap over too few groups (:func:`scaling.fit.clusters.few_groups_flags`)."""
    flags: list[Flag] = []
    n = info.n
    if not n:
        return flags
    flags += few_groups_flags(info.n_groups, info.by)
    if info.n_failed > share * n:
        why = ", ".join(f"{k} {v}" for k, v in info.failed.items())
        flags.append(
            Flag(
                "bootstrap_refits_failed",
                f"bootstrap: {info.n_failed} of {n} refits failed ({100 * info.n_failed / n:.1f}%"
                + (f": {why}" if why else "")
                + f"); the intervals leave them out and rest on the other "
                f"{info.n_used}, so they understate the uncertainty",
            )
        )
    if info.n_on_bound is not None and info.n_on_bound > share * n:
        where = bound_phrase(info.on_bound)
        flags.append(
            Flag(
                "bootstrap_refits_on_bound",
                f"bootstrap: {info.n_on_bound} of {n} refits ({100 * info.n_on_bound / n:.1f}%) ended with a "
                f"parameter on its bound ({where}); the intervals include them: the runs do not pin "
                "that parameter, and the interval stops at the bound",
            )
        )
    return flags


__all__ = [
    "BootstrapInfo",
    "bound_phrase",
    "budgets_around",
    "BUDGETS",
    "default_budgets",
    "resample_generators",
    "resample_indices",
    "resample_weights",
    "map_chunks",
    "chinchilla_derived",
    "percentile_intervals",
    "BootstrapSamples",
    "bootstrap_approach3",
    "default_workers",
    "RefitFailed",
    "Refits",
    "resample_loop",
    "on_bound",
    "health",
    "health_flags",
    "BOUND_RTOL",
    "FLAG_SHARE",
]
